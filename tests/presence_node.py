"""A gateway node's presence registry alone, as a process a test can SIGKILL or SIGSTOP.

``python -m tests.presence_node REDIS_URL PREFIX HEARTBEAT TEAM:USER...`` joins the
registry, counts one connection of each user, prints ``ready`` once that is in Redis,
then prints each ``presence_change`` it announces (``team user state``) and beats until
it is killed.
"""

from __future__ import annotations

import asyncio
import sys

from parley.cache.redis_client import connect
from parley.cache.redis_presence import RedisPresence, node_id
from parley.storage.models import User


async def main(url: str, prefix: str, heartbeat: float, users: list[str]) -> None:
    client = await connect(url)

    def announce(team: str, user: str, state: str) -> None:
        print(team, user, state, flush=True)

    node = RedisPresence(client, announce, node=node_id(0), heartbeat=heartbeat, prefix=prefix)
    await node.start()
    for spec in users:
        team, _, user = spec.partition(":")
        await node.connected(User(user, team, user, "", False, None, None, 0))
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4:]))
