"""One data dir, one writer process: an exclusive lock on ``<data_dir>/shards.lock``.

Each SQLite shard has one writer that numbers its channels' messages from a
cached tail (``ShardState``); a second process writing the same files would number from
its own cache and collide. So the process that opens the shards holds an ``flock`` on
this file for as long as it has them open, and a second one fails at start-up with the
holder's pid. The kernel drops the lock when the holder exits, however it exits (a
SIGKILLed server restarts at once). Admin commands do not take it: they write only the
directory (``meta.db``), which SQLite serializes across processes itself.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from parley.errors import ConfigError

FILENAME = "shards.lock"


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / FILENAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Takes the lock; ConfigError naming the holder if another process has it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise ConfigError(
                f"{self.path.parent} is already served by another process (pid {holder}): "
                "one data dir takes one `parley serve` (stop the other, or run a fleet on "
                "MariaDB shards, docs/deploy.md)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
