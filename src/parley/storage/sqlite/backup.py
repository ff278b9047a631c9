"""Backups of an embedded data dir (``parley backup``, ``parley restore``), taken while
the server runs.

Everything Parley keeps on embedded defaults is in the data dir's SQLite files: the
directory (``meta.db``: workspaces, users and token hashes, channels and members, files'
bytes, apps, retries), the message shards (``shard-N.db``) and the search index
(``search-N.db``). Each is copied with SQLite's online backup API in one step, inside
one read transaction: a consistent snapshot of that file, taken without stopping its
writer (WAL: writers go on meanwhile). The files are copied in an order that keeps what
one refers to in the next: the search index first (so it never holds a message the
shards lack; it catches up from the shards after a restore), then the shards, then the
directory (every message copied has its channel, its author and its files, which exist
before it). So a restored data dir is the server as it was at some moment for each
file, never with a message whose channel is missing: every message acknowledged before
the backup began is in it.

Each copy is checked (``PRAGMA quick_check``) and fsynced, and ``manifest.json`` names
each file with its size and SHA-256; :func:`restore` checks them all before it writes
anything, into a data dir that holds no database and that no server has open.

A MariaDB installation (``PARLEY_SHARDS``) is backed up with MariaDB's own tools
(``mariadb-dump --single-transaction`` or ``mariabackup``), each database.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from parley import __version__
from parley.storage.sqlite.lock import DataDirLock

MANIFEST = "manifest.json"
#: The data dir's databases, in the order they are copied (see the module's docstring).
KINDS = (("search", r"search-\d+\.db"), ("shard", r"shard-\d+\.db"), ("directory", r"meta\.db"))


class BackupError(Exception):
    """A backup or restore that cannot be made; nothing was changed where it was going."""


def databases(data_dir: Path) -> list[Path]:
    """The data dir's database files, in the order they are copied."""
    names = sorted(p.name for p in data_dir.iterdir() if p.is_file())
    found = []
    for _kind, pattern in KINDS:
        found += sorted(
            (data_dir / n for n in names if re.fullmatch(pattern, n)),
            key=lambda p: int(re.sub(r"\D", "", p.name) or 0),
        )
    return found


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        (result,) = conn.execute("PRAGMA quick_check").fetchone()
    finally:
        conn.close()
    if result != "ok":
        raise BackupError(f"{path.name} fails SQLite's check: {result}")


def backup(
    data_dir: Path, dest: Path, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> dict:
    """Copies ``data_dir``'s databases into the new directory ``dest`` (made; it must
    not exist, or be empty) and writes its manifest; the manifest."""
    if not (data_dir / "meta.db").is_file():
        raise BackupError(f"{data_dir} holds no Parley data dir (no meta.db)")
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty: a backup goes into a new directory")
    dest.mkdir(parents=True, exist_ok=True)
    files = []
    for src in databases(data_dir):
        target = dest / src.name
        source = sqlite3.connect(src)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)  # every page in one step: one consistent snapshot
        finally:
            copy.close()
            source.close()
        _check(target)
        _fsync(target)
        files.append({"name": src.name, "bytes": target.stat().st_size, "sha256": _digest(target)})
    manifest = {
        "parley": __version__,
        "created": now().isoformat(timespec="seconds"),
        "source": str(data_dir.resolve()),
        "files": files,
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    _fsync(dest / MANIFEST)
    _fsync(dest)
    return manifest


def verify(src: Path) -> dict:
    """``src``'s manifest, once every file it names is there with its size and SHA-256
    and passes SQLite's check; :class:`BackupError` otherwise."""
    try:
        manifest = json.loads((src / MANIFEST).read_text())
        files = manifest["files"]
        names = [f["name"] for f in files]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{src} has no readable {MANIFEST}: not a Parley backup") from exc
    if "meta.db" not in names:
        raise BackupError(f"{src}'s manifest names no meta.db")
    for f in files:
        path = src / f["name"]
        if not path.is_file() or "/" in f["name"]:
            raise BackupError(f"{f['name']} is missing from {src}")
        if path.stat().st_size != f["bytes"] or _digest(path) != f["sha256"]:
            raise BackupError(f"{f['name']} in {src} is not what was backed up (its checksum)")
        _check(path)
    return manifest


def restore(src: Path, data_dir: Path) -> dict:
    """Checks the backup at ``src`` (:func:`verify`), then copies it into ``data_dir``,
    which must hold no database and be served by no one (its lock is held meanwhile);
    the manifest."""
    manifest = verify(src)
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = DataDirLock(data_dir)
    try:
        lock.acquire()
    except Exception as exc:
        raise BackupError(str(exc)) from exc
    try:
        if any(data_dir.glob("*.db")):
            raise BackupError(f"{data_dir} already holds data: restore into an empty data dir")
        written: list[Path] = []
        try:
            for f in manifest["files"]:  # the directory last: a part restore has none
                partial = data_dir / (f["name"] + ".restoring")
                written.append(partial)
                shutil.copyfile(src / f["name"], partial)
                _fsync(partial)
                partial.rename(data_dir / f["name"])
                written[-1] = data_dir / f["name"]
            _fsync(data_dir)
        except BaseException:
            for path in written:  # as it was: restoring again finds it empty
                path.unlink(missing_ok=True)
            raise
    finally:
        lock.release()
    return manifest
