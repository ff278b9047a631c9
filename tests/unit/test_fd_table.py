"""``reserve_fd_table``: a serving process grows its descriptor table once, at start,
so that no ``accept`` or ``dup`` on the event loop waits for the kernel to grow it."""

from __future__ import annotations

import subprocess
import sys


def run_fresh(code: str) -> list[str]:
    """``code`` in a new, single-threaded interpreter; its printed words."""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return out.stdout.split()


_SLOTS = """
import os
def slots():
    for line in open("/proc/self/status"):
        if line.startswith("FDSize:"):
            return int(line.split()[1])
"""


def test_the_table_holds_the_slots_asked_for_and_no_descriptor_changes():
    words = run_fresh(
        _SLOTS
        + """
import resource
from parley.server import reserve_fd_table
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
before = sorted(os.listdir("/proc/self/fd"))
print(slots() < 3000, reserve_fd_table(3000), slots() >= 3000)
print(sorted(os.listdir("/proc/self/fd")) == before)
"""
    )
    assert words == ["True", "3000", "True", "True"]


def test_the_soft_open_files_limit_caps_it():
    words = run_fresh(
        _SLOTS
        + """
import resource
from parley.server import reserve_fd_table
resource.setrlimit(resource.RLIMIT_NOFILE, (300, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
print(reserve_fd_table(65536), slots() >= 300, reserve_fd_table(0))
"""
    )
    assert words == ["300", "True", "0"]
