"""The search engine failing, on the embedded server: a message the engine refuses
becomes a durable retry, then a dead letter that ``parley dlq replay`` indexes once the
engine takes it, while the rest is indexed as usual; an engine that is down opens the
``search`` circuit breaker (``search.messages`` answers 503 with ``Retry-After`` at
once) and the indexer waits, then catches up by itself.

The faults come from :class:`parley.search.faults.FaultyIndex`, put around the real
SQLite engine of a running server, under its breaker."""

from __future__ import annotations

import time

import httpx
import pytest

from parley.resilience.retries import Backoff
from parley.search.faults import FaultyIndex
from tests.app.test_metrics import scrape, value
from tests.app.test_push_faults import FAULTY, dlq
from tests.app.test_search import texts, wait_total
from tests.helpers import server_in_thread
from tests.subscriber import wait_for


@pytest.fixture
def engine(tmp_path):
    with server_in_thread(tmp_path / "data", **FAULTY) as srv:
        guarded = srv.services.search_index
        faulty = guarded.inner = FaultyIndex(guarded.inner)
        yield srv, faulty, tmp_path / "data"


def test_a_message_the_engine_refuses_is_a_dead_letter_replayed_once(engine):
    srv, faulty, data = engine
    faulty.refuse = frozenset({"poison"})
    web = srv.client(srv.user("indexed").token)
    room = web.conversations_create(name="poisoned")["channel"]["id"]
    for text in ("kiwi one", "kiwi poison", "kiwi two"):
        web.chat_postMessage(channel=room, text=text)
    found = wait_total(web, "kiwi", 2)  # the rest is indexed as usual
    assert sorted(texts(found)) == ["kiwi one", "kiwi two"]

    def letters() -> list[dict]:
        return dlq(data, "list", "--step", "index")

    wait_for(lambda: len(letters()) == 1, 30, "a dead letter")  # after its attempts
    [letter] = letters()
    assert letter["attempts"] == Backoff().attempts  # the indexing step's
    assert "refuses" in letter["last_error"]
    figures = scrape(srv.url)
    assert value(figures, "parley_index_total", outcome="dead_letters") == 1
    assert value(figures, "parley_index_total", outcome="retried") >= 1
    wait_for(lambda: value(scrape(srv.url), "parley_dead_letters", step="index") == 1, 10, "gauge")

    faulty.refuse = frozenset()  # the engine takes it now
    assert dlq(data, "replay", "index", "--all") == [{"replayed": 1}]
    assert dlq(data, "replay", "index", "--all") == [{"replayed": 0}]
    found = wait_total(web, "kiwi", 3)
    assert sorted(texts(found)) == ["kiwi one", "kiwi poison", "kiwi two"]  # once each
    assert letters() == []


def test_an_engine_that_is_down_opens_its_breaker_and_the_index_catches_up(engine):
    srv, faulty, _data = engine
    user = srv.user("searcher")
    web = srv.client(user.token)
    room = web.conversations_create(name="engine-down")["channel"]["id"]

    faulty.down = True
    for i in range(5):
        web.chat_postMessage(channel=room, text=f"mango {i}")  # sends do not need it

    def ask() -> httpx.Response:
        return httpx.post(
            f"{srv.url}/api/search.messages",
            headers={"authorization": f"Bearer {user.token}"},
            data={"query": "mango"},
            timeout=10,
        )

    for _ in range(10):
        answer = ask()
        assert answer.status_code == 503 and answer.json()["error"] == "fatal_error"
    ready = httpx.get(f"{srv.url}/readyz", timeout=10).json()
    assert ready["breakers"]["search"] == "open" and ready["ok"]  # sends still served
    assert int(ask().headers["retry-after"]) >= 1

    faulty.down = False
    time.sleep(FAULTY["breaker_open_seconds"])
    found = wait_total(web, "mango", 5, timeout=30)  # caught up, nothing skipped
    assert sorted(texts(found)) == [f"mango {i}" for i in range(5)]
    assert value(scrape(srv.url), "parley_dead_letters", step="index") == 0
