"""The installation's key for signing id tokens (Sign in with Slack,
:mod:`parley.apps.oidc`): an RSA key kept in the directory's ``meta`` (PEM), so every
node signs with it and publishes the same public key. A process makes one the first
time it needs the key and offers it; the first one stored is the installation's.
"""

from __future__ import annotations

import asyncio
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from parley.apps import oidc
from parley.storage.interface import Directory

#: The ``meta`` key of the installation's signing key.
KEY = "oidc_signing_key"


def _new_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


class SigningKey:
    """Signs id tokens and publishes the key that checks them (see the module)."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory
        self._key: rsa.RSAPrivateKey | None = None
        self._lock = asyncio.Lock()

    async def _private(self) -> rsa.RSAPrivateKey:
        async with self._lock:
            if self._key is None:
                stored = await self._directory.meta_default(KEY, await asyncio.to_thread(_new_pem))
                key = serialization.load_pem_private_key(stored.encode(), password=None)
                assert isinstance(key, rsa.RSAPrivateKey)
                self._key = key
            return self._key

    async def sign(self, claims: dict[str, Any]) -> str:
        """``claims`` as a JWT signed RS256, its header naming the key (``kid``)."""
        key = await self._private()
        kid = oidc.key_id(key.public_key().public_numbers().n)
        return jwt.encode(claims, key, algorithm=oidc.ALGORITHM, headers={"kid": kid})

    async def jwks(self) -> dict[str, Any]:
        """The public key as a JSON Web Key Set (``/openid/connect/keys``)."""
        numbers = (await self._private()).public_key().public_numbers()
        return {"keys": [oidc.jwk(numbers.n, numbers.e)]}
