"""Browser tests: Playwright driving Debian's Chromium (``/usr/bin/chromium``).

Playwright's own browser download cannot work on the machines this project is built on,
so the tests launch the system Chromium. In CI (``CI`` set) a missing Chromium fails
the run; elsewhere the tests are skipped with the reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.app.test_unfurl import pages  # noqa: F401 (a web server to link to, a fixture)

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
#: Where the tests leave screenshots of the main views.
SHOTS = Path(os.environ.get("PARLEY_SCREENSHOTS", "build/screenshots"))


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module; closed with it, because Playwright's sync API keeps
    an event loop running in this thread, which later ``asyncio.run`` calls refuse."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is required in CI: apt-get install -y chromium")
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
