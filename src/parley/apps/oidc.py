"""Sign in with Slack (OpenID Connect), the pure parts; the flow is an app's OAuth
installation's (:mod:`parley.apps.oauth`) with these differences, as Slack's:

- the person goes to ``/openid/connect/authorize`` (``response_type=code``, ``scope``
  of :data:`SCOPES`, ``openid`` among them, and a ``nonce``), which the app registered
  as user scopes (``parley app oauth … --user-scopes openid,email,profile``);
- the app exchanges the code with ``openid.connect.token``: a token of the person's,
  good for ``openid.connect.userInfo`` alone, and an ``id_token``, a JWT signed RS256
  with the installation's key (published at ``/openid/connect/keys``) whose claims say
  who signed in (:func:`claims`);
- ``/.well-known/openid-configuration`` describes it all (:func:`discovery`), so any
  OpenID Connect client library can use it.

The issuer is this server as the request reached it (its ``Host``), as in every other
URL Parley gives out.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from parley.pipeline import profiles
from parley.storage.models import Team, User

#: The scopes of Sign in with Slack; a person's only (an app's bot never has them).
SCOPES = frozenset({"openid", "email", "profile"})
#: Seconds an id token is good for (Slack's: 5 minutes).
ID_TOKEN_TTL = 300
ALGORITHM = "RS256"
#: The namespace of Slack's own claims.
_SLACK = "https://slack.com/"


def issuer(base_url: str) -> str:
    """The issuer for a request that reached the server at ``base_url``."""
    return base_url.rstrip("/")


def about(user: User, team: Team, scopes: frozenset[str], base_url: str) -> dict[str, Any]:
    """What ``scopes`` tell of ``user`` (``openid.connect.userInfo``'s answer, and the
    id token's claims besides the token's own): always who they are and where;
    ``email`` their address; ``profile`` their names and photo."""
    out: dict[str, Any] = {
        "sub": user.id,
        _SLACK + "user_id": user.id,
        _SLACK + "team_id": team.id,
    }
    if "email" in scopes:
        out.update(email=user.email or "", email_verified=bool(user.email))
    if "profile" in scopes:
        shown = profiles.view(profiles.stored(user.profile), None, base_url)
        name = user.real_name or user.name
        given, _, family = name.partition(" ")
        out.update(
            name=name,
            given_name=given,
            family_name=family,
            locale="en-US",
            picture=shown.get("image_512", ""),
        )
        out[_SLACK + "team_name"] = team.name
        out[_SLACK + "team_domain"] = team.domain
    return out


def claims(
    *,
    base_url: str,
    client_id: str,
    user: User,
    team: Team,
    scopes: frozenset[str],
    nonce: str,
    now_s: int,
) -> dict[str, Any]:
    """The id token's claims: the standard ones (``iss``, ``aud`` the app's client id,
    ``iat``, ``exp``, ``auth_time``, ``nonce`` when the authorization gave one) and
    :func:`about`'s."""
    out = {
        "iss": issuer(base_url),
        "aud": client_id,
        "iat": now_s,
        "exp": now_s + ID_TOKEN_TTL,
        "auth_time": now_s,
        **about(user, team, scopes, base_url),
    }
    if nonce:
        out["nonce"] = nonce
    return out


def discovery(base_url: str) -> dict[str, Any]:
    """``/.well-known/openid-configuration`` for a request that reached ``base_url``."""
    root = issuer(base_url)
    return {
        "issuer": root,
        "authorization_endpoint": f"{root}/openid/connect/authorize",
        "token_endpoint": f"{root}/api/openid.connect.token",
        "userinfo_endpoint": f"{root}/api/openid.connect.userInfo",
        "jwks_uri": f"{root}/openid/connect/keys",
        "scopes_supported": sorted(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": [
            "sub",
            "aud",
            "exp",
            "iat",
            "iss",
            "auth_time",
            "nonce",
            "email",
            "email_verified",
            "name",
            "given_name",
            "family_name",
            "locale",
            "picture",
            _SLACK + "user_id",
            _SLACK + "team_id",
            _SLACK + "team_name",
            _SLACK + "team_domain",
        ],
    }


def jwk(n: int, e: int) -> dict[str, str]:
    """The public RSA key of modulus ``n`` and exponent ``e`` as a JSON Web Key, named
    by :func:`key_id`."""
    return {
        "kty": "RSA",
        "alg": ALGORITHM,
        "use": "sig",
        "kid": key_id(n),
        "n": _b64(n),
        "e": _b64(e),
    }


def key_id(n: int) -> str:
    """A key's id: a digest of its modulus."""
    return hashlib.sha256(_bytes(n)).hexdigest()[:16]


def _bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _b64(value: int) -> str:
    return base64.urlsafe_b64encode(_bytes(value)).rstrip(b"=").decode()
