"""``GET /api/openapi.json``: the description names exactly the methods the server
registers, and is served as built."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

from parley import app
from parley.api import openapi
from parley.config import Settings


def registered_methods(data_dir) -> dict[str, bool]:
    """Method name -> whether GET is allowed, as the composition root registers them."""

    async def read() -> dict[str, bool]:
        settings = Settings.load({}, data_dir=data_dir, gateway_port=0, drain_seconds=0)
        svc = await app.start(settings)
        try:
            return {name: m.read for name, m in svc.api._methods.items()}
        finally:
            await svc.close()

    return asyncio.run(read())


def test_the_document_describes_every_registered_method_and_no_other(tmp_path):
    registered = registered_methods(tmp_path)
    described = {m.name: m.read for m in openapi.METHODS}
    assert described == registered
    paths = openapi.document()["paths"]
    assert set(paths) == {f"/api/{name}" for name in registered}
    for name, read in registered.items():
        assert set(paths[f"/api/{name}"]) == ({"get", "post"} if read else {"post"})


def test_every_operation_declares_its_answers_and_bearer_auth():
    doc = openapi.document()
    assert doc["openapi"].startswith("3.")
    assert doc["components"]["securitySchemes"]["bearer"] == {
        **doc["components"]["securitySchemes"]["bearer"],
        "type": "http",
        "scheme": "bearer",
    }
    assert doc["security"] == [{"bearer": []}]
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    for ops in doc["paths"].values():
        for op in ops.values():
            assert {"200", "413", "429", "500", "503"} <= set(op["responses"])
            assert "Retry-After" in op["responses"]["429"]["headers"]


def test_document_returns_a_fresh_structure():
    doc = openapi.document()
    doc["components"]["schemas"]["Error"]["required"].append("changed")
    assert "changed" not in openapi.document()["components"]["schemas"]["Error"]["required"]


def test_served_document_is_the_built_one(server):
    with urllib.request.urlopen(f"{server.url}/api/openapi.json", timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers["content-type"].startswith("application/json")
        assert json.loads(resp.read()) == openapi.document()


def test_only_get_reads_the_document(server):
    req = urllib.request.Request(f"{server.url}/api/openapi.json", data=b"{}", method="POST")
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("POST /api/openapi.json was accepted")
    except urllib.error.HTTPError as exc:
        assert exc.code == 405
        assert exc.headers["allow"] == "GET, HEAD"
        assert json.loads(exc.read()) == {"ok": False, "error": "method_not_allowed"}
