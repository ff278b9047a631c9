"""Password hashes for people who sign in to the web client. Pure; ``hashlib`` only.

scrypt (RFC 7914) with a 16-byte random salt, N=2^15, r=8, p=1: about 30 MiB and tens of
milliseconds per check, so a stolen directory is slow to attack and a check must run off
the event loop. Stored as ``scrypt$<log2 N>$<r>$<p>$<salt>$<hash>`` (base64), so the cost
can rise later without invalidating stored hashes. Comparison is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_LOG_N, _R, _P, _LEN = 15, 8, 1, 32
MAX_LENGTH = 1024  # longer is refused before hashing (a hash is costly by design)


def _scrypt(password: str, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    n = 1 << log_n
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=_LEN, maxmem=256 * n * r + (1 << 20)
    )


def hash_password(password: str) -> str:
    """The stored form of ``password`` (a new salt each time)."""
    if not password or len(password) > MAX_LENGTH:
        raise ValueError(f"a password is 1-{MAX_LENGTH} characters")
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _LOG_N, _R, _P)
    b64 = base64.b64encode
    return f"scrypt${_LOG_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored``; ``False`` for no or a malformed hash."""
    if not stored or not password or len(password) > MAX_LENGTH:
        return False
    try:
        scheme, log_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or not 10 <= int(log_n) <= 20:
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(log_n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
