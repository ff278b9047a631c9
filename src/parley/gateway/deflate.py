"""permessage-deflate (RFC 7692) without context takeover, so a fan-out compresses each
event once and sends the same bytes to every connection that negotiated it.

With context takeover each connection needs its own compressor (about 64 KiB) and every
frame is compressed once per connection, which halves broadcast throughput (see
``docs/architecture.md``). Without it, compression costs ~7 µs per event, once, and
nothing per connection. Pure functions; ``zlib`` only.
"""

from __future__ import annotations

import zlib

#: The answer to any permessage-deflate offer.
RESPONSE = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
_TAIL = b"\x00\x00\xff\xff"


def negotiate(offer: str | None) -> str | None:
    """The ``Sec-WebSocket-Extensions`` response for a request's header, or ``None``.

    Any permessage-deflate offer is accepted with no context takeover either way, which
    RFC 7692 lets the server declare whatever the offer said; window bits stay at 15.
    """
    if not offer:
        return None
    for extension in offer.split(","):
        name, _, params = extension.strip().partition(";")
        if name.strip().lower() != "permessage-deflate":
            continue
        bits = [p.strip().lower() for p in params.split(";") if p.strip()]
        if any(
            b.startswith("server_max_window_bits")
            and b.split("=")[-1].strip('" ') != "15"
            and "=" in b
            for b in bits
        ):
            continue  # a smaller server window we do not offer; try the next offer
        return RESPONSE
    return None


def compress(payload: bytes, level: int = 1) -> bytes:
    """One message, compressed on its own (no context carried to the next one)."""
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    data = c.compress(payload) + c.flush(zlib.Z_SYNC_FLUSH)
    return data[:-4] if data.endswith(_TAIL) else data


def decompress(data: bytes, max_size: int) -> bytes | None:
    """A client's compressed message, or ``None`` if it is corrupt or would inflate past
    ``max_size`` bytes (a decompression bomb)."""
    d = zlib.decompressobj(-15)
    try:
        out = d.decompress(data + _TAIL, max_size + 1)
    except zlib.error:
        return None
    return None if len(out) > max_size or d.unconsumed_tail else out
