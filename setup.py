"""The C extensions; everything else is in pyproject.toml. Both are optional: where one
cannot be compiled the install goes on without it.

- ``parley.gateway._sender``: the gateway's socket writes on a thread without the GIL
  (``gateway/outbound.py``); without it the gateway writes from the event loop.
- ``parley.storage.sqlite._syncer``: the SQLite shards' commits and WAL syncs on a
  thread without the GIL (``storage/sqlite/syncer.py``; needs SQLite's headers,
  Debian's ``libsqlite3-dev``); without it a Python thread does them."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "parley.gateway._sender",
            ["src/parley/gateway/_sender.c"],
            include_dirs=["src/parley"],
            depends=["src/parley/_worker.h"],
            extra_compile_args=["-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        ),
        Extension(
            "parley.storage.sqlite._syncer",
            ["src/parley/storage/sqlite/_syncer.c"],
            libraries=["sqlite3"],
            include_dirs=["src/parley"],
            depends=["src/parley/_worker.h"],
            extra_compile_args=["-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        ),
    ]
)
