"""``raise_loop_priority``: once serving, the event loop's thread runs a few nice steps
above the process's other threads, where the process may; elsewhere it keeps the
process's priority and says why."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading

import pytest

from parley.config import Settings
from parley.errors import ConfigError
from parley.server import raise_loop_priority


def in_a_thread(steps: int) -> tuple[int, int, int, int]:
    """In a new thread: its nice before, what ``raise_loop_priority(steps)`` returned,
    its nice after, and the nice of the thread that started it, after."""
    seen: list[int] = []

    def run() -> None:
        tid = threading.get_native_id()
        before = os.getpriority(os.PRIO_PROCESS, tid)
        got = raise_loop_priority(steps)
        seen.extend((before, got, os.getpriority(os.PRIO_PROCESS, tid)))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return (*seen, os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))


def may_lower_nice_to(nice: int) -> bool:
    """Whether this process may set a thread's nice to ``nice``: with CAP_SYS_NICE (bit 23
    of its effective capabilities), or a nice limit (``20 - RLIMIT_NICE``) at or below it."""
    with open("/proc/self/status") as status:
        caps = next(line for line in status if line.startswith("CapEff:")).split()[1]
    return bool(int(caps, 16) >> 23 & 1) or 20 - resource.getrlimit(resource.RLIMIT_NICE)[0] <= nice


def test_the_calling_thread_alone_runs_the_steps_higher():
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    before, got, after, starter = in_a_thread(3)
    assert before == own  # a thread starts with its creator's nice
    if may_lower_nice_to(max(-20, before - 3)):
        assert got == after == max(-20, before - 3)
    else:
        assert got == after == before
    assert starter == own  # the other threads keep theirs


def test_no_steps_change_nothing():
    before, got, after, _ = in_a_thread(0)
    assert got == after == before


def test_where_it_may_not_the_loop_keeps_the_priority_and_says_why():
    """As an unprivileged user (nobody), with no nice limit: refused, logged, not fatal."""
    code = (
        "import logging, os, threading, resource\n"
        "from parley.server import raise_loop_priority\n"  # before dropping privileges
        "logging.basicConfig(level=logging.INFO, format='%(message)s')\n"
        "resource.setrlimit(resource.RLIMIT_NICE, (0, 0))\n"
        "if os.geteuid() == 0:\n"
        "    os.setgid(65534); os.setuid(65534)\n"
        "before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())\n"
        "print(before, raise_loop_priority(5))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    before, got = out.stdout.split()
    assert got == before
    assert "the event loop keeps nice" in out.stderr
    assert "CAP_SYS_NICE" in out.stderr


def test_the_setting_is_read_and_bounded():
    assert Settings.load({}).loop_priority == 5
    assert Settings.load({"PARLEY_LOOP_PRIORITY": "0"}).loop_priority == 0
    for bad in ("-1", "40"):
        with pytest.raises(ConfigError, match="loop_priority"):
            Settings.load({"PARLEY_LOOP_PRIORITY": bad})
