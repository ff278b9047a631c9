"""Server-to-client WebSocket frames (RFC 6455 §5.2) built as bytes, once per event.

A server's frames are never masked, so one event's frame is the same bytes for every
connection it goes to: the gateway builds it once and a fan-out to N connections costs
N buffer appends. Pure functions.
"""

from __future__ import annotations

import struct

_FIN_TEXT = 0x81
_RSV1 = 0x40


def text(payload: bytes, *, rsv1: bool = False) -> bytes:
    """One final, unmasked text frame carrying ``payload``; ``rsv1`` marks a payload
    compressed with permessage-deflate (RFC 7692)."""
    first = _FIN_TEXT | (_RSV1 if rsv1 else 0)
    size = len(payload)
    if size < 126:
        header = bytes((first, size))
    elif size < 1 << 16:
        header = struct.pack("!BBH", first, 126, size)
    else:
        header = struct.pack("!BBQ", first, 127, size)
    return header + payload


#: A ping without a payload (the heartbeat's, RFC 6455 §5.5.2).
PING = bytes((0x89, 0))
