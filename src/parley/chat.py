"""``python -m parley.chat``: a terminal chat over RTM, for trying Parley by hand.

Prints every message of the channel as it arrives and sends each line you type. Uses
:class:`parley.client.ResumingRTMClient`, so pulling the network and restoring it loses
nothing: on reconnect it resumes where it left off. Needs a bot token (``xoxb-``), as
slack_sdk's RTM client does.
"""

from __future__ import annotations

import argparse
import sys
import threading

from slack_sdk import WebClient

from parley.client import ResumingRTMClient


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m parley.chat", description=__doc__.splitlines()[0])
    p.add_argument("--url", default="http://127.0.0.1:8080", help="Parley's Web API base URL")
    p.add_argument("--token", required=True, help="a bot token (xoxb-…)")
    p.add_argument("--channel", required=True, help="channel id (C…)")
    args = p.parse_args(argv)

    web = WebClient(token=args.token, base_url=f"{args.url.rstrip('/')}/api/")
    me = web.auth_test()
    names: dict[str, str] = {}

    def name(user_id: str) -> str:
        if user_id not in names:
            names[user_id] = web.users_info(user=user_id)["user"]["name"]
        return names[user_id]

    rtm = ResumingRTMClient(web_client=web, ping_interval=5)
    ready = threading.Event()

    @rtm.on("*")
    def show(client, event):
        kind = event.get("type")
        if kind == "hello":
            ready.set()
            print(f"* connected as {me['user']}", flush=True)
        elif kind == "message" and event.get("channel") == args.channel and "text" in event:
            if event.get("subtype") in (None, "file_share"):
                print(f"[{event['seq']}] {name(event['user'])}: {event['text']}", flush=True)
        elif kind == "goodbye":
            print("* server said goodbye; reconnecting", flush=True)

    rtm.connect()
    ready.wait(10)
    next_id = 0
    try:
        for line in sys.stdin:
            if line.strip():
                next_id += 1
                rtm.send(
                    {
                        "id": next_id,
                        "type": "message",
                        "channel": args.channel,
                        "text": line.rstrip("\n"),
                    }
                )
    except KeyboardInterrupt:
        pass
    finally:
        rtm.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
