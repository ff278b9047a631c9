"""Test support for the MariaDB/MySQL backend: the server the tests use, and databases
with unique names that are dropped afterwards.

MariaDB is a required service in CI (``CI`` set): unreachable, the tests that need it
fail there; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import asyncmy
import pytest

from parley.storage.mysql.directory import run_sync

#: The server (no database part): ``mysql://user[:password]@host:port``.
SERVER = os.environ.get("PARLEY_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306").rstrip("/")


def _connect_args() -> dict:
    from urllib.parse import urlsplit

    parts = urlsplit(SERVER)
    return {
        "host": parts.hostname,
        "port": parts.port or 3306,
        "user": parts.username or "root",
        "password": parts.password or "",
    }


def sql(statement: str, args: tuple = (), database: str | None = None) -> list[tuple]:
    """Runs one statement on the test server (autocommit); returns its rows."""

    async def go() -> list[tuple]:
        conn = await asyncmy.connect(**_connect_args(), db=database, autocommit=True)
        try:
            async with conn.cursor() as cur:
                await cur.execute("SET SESSION sql_notes = 0")  # IF EXISTS: no note logged
                await cur.execute(statement, args or None)
                return list(await cur.fetchall() or ())
        finally:
            conn.close()

    return run_sync(go)


def require() -> None:
    """Skips the calling module without a MariaDB (fails it in CI)."""
    try:
        sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means no usable server
        if os.environ.get("CI"):
            pytest.fail(f"MariaDB is required in CI at {SERVER}: {exc}")
        pytest.skip(f"no MariaDB at {SERVER}: {exc}")


@contextlib.contextmanager
def databases(n: int, tag: str = "t") -> Iterator[list[str]]:
    """``n`` URLs of databases no one else uses (created by Parley on first use), all
    dropped on exit."""
    base = f"pt_{tag}_{uuid.uuid4().hex[:10]}"
    names = [f"{base}_{i}" for i in range(n)]
    try:
        yield [f"{SERVER}/{name}" for name in names]
    finally:
        for name in names:
            sql(f"DROP DATABASE IF EXISTS `{name}`")


def url_of(database: str) -> str:
    return f"{SERVER}/{database}"


def host_port() -> tuple[str, int]:
    """The test server's host and port."""
    args = _connect_args()
    return args["host"], args["port"]
