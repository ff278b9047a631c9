"""Schemathesis fuzzes a real server against the Web API's own OpenAPI description.

Every operation of :func:`parley.api.openapi.document` is called with generated arguments
(schemathesis' coverage cases, then Hypothesis examples, valid and invalid; JSON, form and
multipart bodies, GET query strings, other HTTP verbs), once with a real token and once
without. Whatever the input: never a 5xx, every answer JSON with a boolean ``ok``, and the
status, content type, headers and body the document declares. Without a token nothing
succeeds.

Random ids would almost never name a real channel, message or user, so the document
fuzzed here offers, beside any string, placeholders (``@public``, ``@parent``, ...) for the
``channel``, ``ts``/``timestamp``/``thread_ts`` and ``user``/``users`` arguments, which
each case swaps for ids of this server's seeded world before it is sent: the fuzz then
reaches the handlers' write paths, not only their argument checks. ``auth.revoke`` runs
with a token of its own, so revoking it leaves the others working.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from parley.api import openapi
from tests.helpers import server_in_thread

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# argument name -> placeholders the fuzz may choose instead of a generated string
SEEDS = {
    "channel": ["@public", "@private"],
    "ts": ["@parent", "@reply"],
    "timestamp": ["@parent", "@reply"],
    "thread_ts": ["@parent", "@reply"],
    "user": ["@other"],
    "users": ["@other"],
}


def seeded(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with each seeded argument's schema widened to also offer its placeholders."""

    def widen(schema: dict[str, Any], name: str) -> dict[str, Any]:
        if name not in SEEDS:
            return schema
        return {"anyOf": [{"type": "string", "enum": SEEDS[name]}, schema]}

    for operations in doc["paths"].values():
        for op in operations.values():
            for param in op.get("parameters", []):
                param["schema"] = widen(param["schema"], param["name"])
            for media in op.get("requestBody", {}).get("content", {}).values():
                props = media["schema"]["properties"]
                for name in props:
                    props[name] = widen(props[name], name)
    return doc


schema = schemathesis.openapi.from_dict(seeded(openapi.document()))
fuzz_settings = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # per-method call limits off: 429s would stop the fuzz at the first handful of calls
    with server_in_thread(tmp_path_factory.mktemp("data"), api_calls_per_minute=0) as srv:
        yield srv


@pytest.fixture(scope="module")
def world(server) -> dict[str, Any]:
    """Placeholders -> real ids: two channels (public, private), a thread, another user;
    plus the server's URL and the tokens."""
    me = server.user("fuzz-me", rate_limit=100_000)
    other = server.user("fuzz-other")
    client = server.client(me.token)
    public = client.conversations_create(name="fuzz-public")["channel"]["id"]
    private = client.conversations_create(name="fuzz-private", is_private=True)["channel"]["id"]
    parent = client.chat_postMessage(channel=public, text="parent")["ts"]
    reply = client.chat_postMessage(channel=public, text="reply", thread_ts=parent)["ts"]
    return {
        "url": server.url,
        "token": me.token,
        "revocable": server.user("fuzz-revoked").token,
        "@public": public,
        "@private": private,
        "@parent": parent,
        "@reply": reply,
        "@other": other.user_id,
    }


def fill(case: schemathesis.Case, world: dict[str, Any]) -> None:
    """Swaps the placeholders in ``case``'s query and body for real ids."""
    for part in (case.query, case.body):
        if isinstance(part, dict):
            for name, value in part.items():
                if isinstance(value, str) and value.startswith("@") and value in world:
                    part[name] = world[value]


def call_and_check(case: schemathesis.Case, world: dict[str, Any], token: str | None) -> dict:
    fill(case, world)
    headers = {"Authorization": f"Bearer {token}"} if token else None
    response = case.call(base_url=world["url"], headers=headers)
    case.validate_response(response, checks=CHECKS)
    body = json.loads(response.content)
    assert isinstance(body, dict) and isinstance(body.get("ok"), bool), response.content[:200]
    return body


@schema.parametrize()
@fuzz_settings
def test_fuzz_with_a_token(case, world):
    revoking = case.operation.path == "/api/auth.revoke"
    call_and_check(case, world, world["revocable" if revoking else "token"])


#: The paths of the methods that need no token (``api.test``; ``security: []``).
PUBLIC = {f"/api/{m.name}" for m in openapi.METHODS if m.public}


@schema.parametrize()
@settings(fuzz_settings, max_examples=10)
def test_fuzz_without_a_token(case, world):
    body = call_and_check(case, world, None)
    if case.operation.path not in PUBLIC:
        assert body["ok"] is False
