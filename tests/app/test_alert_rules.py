"""The alert rules that ship with Parley (``deploy/prometheus/parley-rules.yml``):
``promtool check rules``, promtool's unit tests driving each alert over its threshold and
holding it under (``parley-rules.test.yml``), and every metric the rules read is one a
real server exposes.

promtool comes with Debian's ``prometheus`` package, which ``.ci/run`` installs: missing,
these tests fail in CI and are skipped elsewhere.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from parley.notify.fakes import running
from tests.app.test_metrics import scrape
from tests.helpers import server_in_thread

RULES = Path(__file__).parents[2] / "deploy" / "prometheus"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is required in CI (apt-get install prometheus)")
        pytest.skip("no promtool (apt-get install prometheus)")
    return found


def test_the_rules_are_valid_and_fire_on_each_condition(promtool):
    for args in (
        ["check", "rules", "parley-rules.yml"],
        ["test", "rules", "parley-rules.test.yml"],
    ):
        proc = subprocess.run(
            [promtool, *args], cwd=RULES, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    alerts = re.findall(r"alert: (\w+)", (RULES / "parley-rules.yml").read_text())
    tested = (RULES / "parley-rules.test.yml").read_text()
    assert len(alerts) == 5 and all(f"alertname: {a}" in tested for a in alerts)


def test_every_metric_the_rules_read_is_exposed(tmp_path):
    text = (RULES / "parley-rules.yml").read_text()
    read = set(re.findall(r"\b(parley_[a-z_]+)", text))
    with (
        running(tmp_path / "providers") as providers,
        server_in_thread(tmp_path / "data", **providers.settings) as srv,
    ):
        user = srv.user("rules-alice")
        web = srv.client(user.token)
        room = web.conversations_create(name="rules")["channel"]["id"]
        web.chat_postMessage(channel=room, text="a message, so that histograms have samples")
        exposed = {name for name, _labels in scrape(srv.url)}
    histogram_parts = {"_bucket", "_count", "_sum"}
    assert read, text
    for name in read:
        base = next((name[: -len(p)] for p in histogram_parts if name.endswith(p)), name)
        assert name in exposed or f"{base}_bucket" in exposed, (name, sorted(exposed))
