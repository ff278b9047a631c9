"""The alert rules and the Grafana dashboard that ship with Parley
(``deploy/prometheus/parley-rules.yml``, ``deploy/grafana-dashboard.json``): ``promtool
check rules``, promtool's unit tests driving each alert over its threshold and holding
it under (``parley-rules.test.yml``), every dashboard query valid PromQL, and every
metric either reads one a real server exposes.

promtool comes with Debian's ``prometheus`` package, which ``.ci/run`` installs: missing,
these tests fail in CI and are skipped elsewhere.
"""

from __future__ import annotations

import json
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
    assert len(alerts) == 6 and all(f"alertname: {a}" in tested for a in alerts)


@pytest.fixture(scope="module")
def exposed(tmp_path_factory) -> set[str]:
    """The sample names a server with push configured exposes, once traffic went by."""
    tmp = tmp_path_factory.mktemp("exposed")
    with (
        running(tmp / "providers") as providers,
        server_in_thread(tmp / "data", **providers.settings) as srv,
    ):
        user = srv.user("rules-alice")
        web = srv.client(user.token)
        room = web.conversations_create(name="rules")["channel"]["id"]
        web.chat_postMessage(channel=room, text="a message, so that histograms have samples")
        return {name for name, _labels in scrape(srv.url)}


def assert_exposed(text: str, exposed: set[str]) -> None:
    read = set(re.findall(r"\b(parley_[a-z_]+)", text))
    assert read, text
    for name in read:
        base = next(
            (name[: -len(p)] for p in ("_bucket", "_count", "_sum") if name.endswith(p)), name
        )
        assert name in exposed or f"{base}_bucket" in exposed, (name, sorted(exposed))


def test_every_metric_the_rules_read_is_exposed(exposed):
    assert_exposed((RULES / "parley-rules.yml").read_text(), exposed)


def test_the_dashboard_shows_the_seeds_panels_in_valid_promql(promtool, exposed, tmp_path):
    dashboard = json.loads((RULES.parent / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for seen in ("latency", "delivery rate", "connections", "queue depth", "breakers", "dead"):
        assert seen in titles, seen
    # promtool checks PromQL inside rules: each query as a recording rule
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"parley:panel_{i}", "expr": e} for i, e in enumerate(exprs)],
            }
        ]
    }
    (tmp_path / "dashboard.yml").write_text(json.dumps(rules))  # JSON is YAML
    proc = subprocess.run(
        [promtool, "check", "rules", "dashboard.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_exposed("\n".join(exprs), exposed)
