"""The floor of a durable send in CPython: the least work a post can cost the event loop.

Per message, with nothing else around it (no sockets, no asyncio, no checks): decode the
client's JSON frame, give it the channel's next ``seq`` and ``ts``, one ``INSERT`` into a
shard's ``messages`` table (Parley's schema and indexes), a group ``COMMIT`` every
``--batch`` messages, and the event and the acknowledgement encoded once each. The WAL
is not synced (``synchronous=OFF``): a sync is a wait on another thread, not CPU of the
loop's. ``--no-store`` leaves SQLite out, to split the figure.

    python docs/bench/floor.py [--channels 100] [--batch 14] [--messages 200000] [--no-store]

Prints the process's CPU time per message. See docs/benchmarks.md, "2026-12-06, 18:00 UTC".
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

import orjson

from parley.storage.sqlite.migrations import SHARD

INSERT = (
    "INSERT INTO messages (id, channel, team, seq, ts, user, bot_id, text, thread_ts,"
    " subtype, client_msg_id, rich) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def run(channels: int, batch: int, messages: int, store: bool) -> float:
    """CPU seconds per message of the loop below."""
    names = [f"C{i:08d}" for i in range(channels)]
    frames = [
        orjson.dumps(
            {"id": i, "type": "message", "channel": names[i % channels], "text": f"message {i}"}
        )
        for i in range(messages)
    ]
    seqs = dict.fromkeys(names, 0)
    lasts = dict.fromkeys(names, 0)
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "shard.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        for step in SHARD:  # Parley's shard schema and indexes, as migrated
            conn.executescript(step)
        began = time.process_time()
        if store:
            conn.execute("BEGIN")
        for i, raw in enumerate(frames):
            command = orjson.loads(raw)
            channel, text = command["channel"], command["text"]
            seq = seqs[channel] = seqs[channel] + 1
            now = time.time_ns() // 1000
            ts = lasts[channel] = now if now > lasts[channel] else lasts[channel] + 1
            if store:
                row = (i, channel, "T1", seq, ts, "U1", None, text, None, None, None, None)
                conn.execute(INSERT, row)
                if i % batch == batch - 1:
                    conn.execute("COMMIT")
                    conn.execute("BEGIN")
            stamp = f"{ts // 1_000_000}.{ts % 1_000_000:06d}"
            orjson.dumps(
                {"type": "message", "channel": channel, "user": "U1", "text": text, "ts": stamp}
            )
            orjson.dumps({"ok": True, "reply_to": command["id"], "ts": stamp, "text": text})
        if store:
            conn.execute("COMMIT")
        spent = time.process_time() - began
        conn.close()
    return spent / messages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--batch", type=int, default=14, help="messages a COMMIT")
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--no-store", action="store_true", help="leave SQLite out")
    args = parser.parse_args()
    per = run(args.channels, args.batch, args.messages, not args.no_store)
    what = "without the store" if args.no_store else f"commits of {args.batch}"
    print(f"{per * 1e6:.1f} us of CPU a message ({args.channels} channels, {what})")


if __name__ == "__main__":
    main()
