"""Start-up of the MySQL backend: the directory, the recorded shard map, then the shards.

The directory records how many shards the messages were placed over (``meta.shards``)
the first time a fleet starts. Starting with another number of shard URLs is a
:class:`~parley.errors.ConfigError`: ``shard_for`` would look for channels on shards that
do not hold them. The count changes only through ``parley shards add``
(:mod:`.reshard`), which moves the channels first; while it runs, nothing starts.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from parley.config import Settings
from parley.errors import ConfigError
from parley.ids import wall_us
from parley.storage.mysql.directory import MysqlDirectory, shard_map_meta
from parley.storage.mysql.messages import MysqlMessageStore
from parley.storage.mysql.urls import Topology, topology


def settings_topology(settings: Settings) -> Topology:
    return topology(settings.shard_urls, settings.directory_url, settings.shard_replicas)


async def recorded_shards(directory: MysqlDirectory, topo: Topology) -> int | None:
    """The recorded shard count (``None`` before the first start); ConfigError when a
    move is unfinished or the count differs from ``topo``'s."""
    moving = await directory.meta("shard_move")
    if moving is not None:
        raise ConfigError(
            f"`parley shards add` was moving channels to {json.loads(moving)['to']} shards and "
            "did not finish: run it again with the same URL before serving"
        )
    recorded = await directory.meta("shards")
    if recorded is not None and int(recorded) != len(topo.shards):
        raise ConfigError(
            f"the directory ({topo.directory.redacted()}) records {recorded} shards; "
            f"PARLEY_SHARDS names {len(topo.shards)}. Changing the count would strand "
            "messages: add a shard with `parley shards add URL`, writers stopped "
            "(docs/storage.md)"
        )
    return None if recorded is None else int(recorded)


async def open_storage(
    settings: Settings, *, clock_us: Callable[[], int] = wall_us
) -> tuple[MysqlDirectory, MysqlMessageStore]:
    """The started directory and message store of ``settings.shard_urls``: databases
    created and migrated as needed, the shard map checked (recorded on first start)."""
    topo = settings_topology(settings)
    directory = MysqlDirectory(settings, topo.directory)
    await directory.start()
    try:
        recorded = await recorded_shards(directory, topo)
        store = MysqlMessageStore(settings, topo, clock_us=clock_us)
        try:
            await store.start(claim=recorded is None)
            if recorded is None:
                await directory.set_meta(shard_map_meta(topo.shards))
        except BaseException:
            await store.close()
            raise
    except BaseException:
        await directory.close()
        raise
    return directory, store
