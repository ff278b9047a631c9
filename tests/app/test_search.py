"""``search.messages`` through ``slack_sdk``: the query language, sorting, paging,
highlights and permalinks, and privacy as hard as the read paths: a result is only ever a
message the caller can read today. The same checks run on MariaDB's engine in
``tests/integration/test_mysql_search.py``."""

from __future__ import annotations

import time

import pytest
from slack_sdk.errors import SlackApiError

from parley.search.query import HIGHLIGHT_END, HIGHLIGHT_START
from tests.helpers import RunningServer, server_in_thread


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with server_in_thread(tmp_path_factory.mktemp("data")) as srv:
        yield srv


def wait_total(client, query: str, total: int, timeout: float = 10.0) -> dict:
    """``search.messages`` until it reports ``total`` matches (indexing is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        found = client.search_messages(query=query, count=100)["messages"]
        if found["total"] == total or time.monotonic() > deadline:
            assert found["total"] == total, [m["text"] for m in found["matches"]]
            return found
        time.sleep(0.05)


def texts(found: dict) -> list[str]:
    return [m["text"] for m in found["matches"]]


class World:
    """Alice and Bob share a private channel; Carol is in neither channel."""

    def __init__(self, srv: RunningServer, tag: str) -> None:
        self.tag = tag
        self.alice, self.bob, self.carol = (
            srv.user(f"{n}-{tag}") for n in ("alice", "bob", "carol")
        )
        self.a, self.b, self.c = (srv.client(u.token) for u in (self.alice, self.bob, self.carol))
        self.pub = self.a.conversations_create(name=f"pub-{tag}")["channel"]["id"]
        self.priv = self.a.conversations_create(name=f"priv-{tag}", is_private=True)["channel"][
            "id"
        ]
        self.a.conversations_invite(channel=self.priv, users=self.bob.user_id)
        self.b.conversations_join(channel=self.pub)
        t = tag
        self.posts = {
            "train": self.a.chat_postMessage(
                channel=self.pub, text=f"{t} deploy the release train"
            ),
            "prod": self.b.chat_postMessage(
                channel=self.pub, text=f"{t} deployed to production <https://example.com|here>"
            ),
            "lunch": self.a.chat_postMessage(channel=self.pub, text=f"{t} lunch plans, Café Über"),
            "secret": self.a.chat_postMessage(
                channel=self.priv, text=f"{t} qzsecretmark5 deploy the secret plan"
            ),
        }
        wait_total(self.a, t, 4)


def check_query_language(w: World) -> None:
    t, a = w.tag, w.a
    assert sorted(texts(wait_total(a, f"{t} deploy", 3))) == sorted(
        [
            f"{t} deploy the release train",
            f"{t} deployed to production <https://example.com|here>",
            f"{t} qzsecretmark5 deploy the secret plan",
        ]
    )  # "deploy" matches "deployed" too
    assert texts(wait_total(a, f'{t} "release train"', 1)) == [f"{t} deploy the release train"]
    assert len(texts(wait_total(a, f"{t} deploy -secret", 2))) == 2
    assert texts(wait_total(a, f"{t} cafe uber", 1)) == [f"{t} lunch plans, Café Über"]
    assert len(texts(wait_total(a, f"{t} has:link", 1))) == 1
    assert len(texts(wait_total(a, f"{t} in:#pub-{t}", 3))) == 3
    assert len(texts(wait_total(a, f"{t} in:<#{w.priv}>", 1))) == 1
    assert len(texts(wait_total(a, f"{t} from:@bob-{t}", 1))) == 1
    assert len(texts(wait_total(a, f"{t} from:<@{w.alice.user_id}>", 3))) == 3
    assert len(texts(wait_total(w.b, f"{t} from:me", 1))) == 1
    assert len(texts(wait_total(a, f"{t} on:today", 4))) == 4
    assert len(texts(wait_total(a, f"{t} before:today", 0))) == 0
    assert len(texts(wait_total(a, f"{t} after:yesterday", 4))) == 4
    assert len(texts(wait_total(a, f"in:#pub-{t} from:me", 2))) == 2  # filters alone
    assert len(texts(wait_total(a, f"{t} nosuchwordanywhere", 0))) == 0


def check_sorting_paging_and_shape(w: World, base_url: str) -> None:
    t, a = w.tag, w.a
    newest = a.search_messages(query=t, sort="timestamp", sort_dir="desc", count=2)["messages"]
    assert [m["ts"] for m in newest["matches"]] == [w.posts["secret"]["ts"], w.posts["lunch"]["ts"]]
    assert newest["paging"] == {"count": 2, "total": 4, "page": 1, "pages": 2}
    second = a.search_messages(query=t, sort="timestamp", sort_dir="desc", count=2, page=2)
    assert [m["ts"] for m in second["messages"]["matches"]] == [
        w.posts["prod"]["ts"],
        w.posts["train"]["ts"],
    ]
    oldest = a.search_messages(query=t, sort="timestamp", sort_dir="asc", count=1)["messages"]
    assert oldest["matches"][0]["ts"] == w.posts["train"]["ts"]
    seen, cursor = [], "*"
    while cursor:
        page = a.search_messages(query=t, sort="timestamp", count=3, cursor=cursor)
        seen += [m["ts"] for m in page["messages"]["matches"]]
        cursor = page["response_metadata"]["next_cursor"]
    assert sorted(seen) == sorted(p["ts"] for p in w.posts.values())
    best = a.search_messages(query=f"{t} release train deploy", highlight=True)["messages"]
    top = best["matches"][0]
    assert top["text"] == (
        f"{HIGHLIGHT_START}{t}{HIGHLIGHT_END} {HIGHLIGHT_START}deploy{HIGHLIGHT_END} the "
        f"{HIGHLIGHT_START}release"
        f"{HIGHLIGHT_END} {HIGHLIGHT_START}train{HIGHLIGHT_END}"
    )
    assert top["channel"]["id"] == w.pub and top["channel"]["name"] == f"pub-{t}"
    assert top["user"] == w.alice.user_id and top["username"] == f"alice-{t}"
    assert top["type"] == "message" and top["ts"] == w.posts["train"]["ts"]
    assert top["permalink"] == f"{base_url}/archives/{w.pub}/p{top['ts'].replace('.', '')}"


def check_privacy(w: World) -> None:
    t = w.tag
    # Carol is in no channel: public messages yes, the private one never
    assert "qzsecretmark5" not in repr(wait_total(w.c, f"{t} deploy", 2))
    assert wait_total(w.c, "qzsecretmark5", 0)["matches"] == []
    assert wait_total(w.c, f"{t} in:<#{w.priv}>", 0)["matches"] == []
    # Bob can read it while he is a member, and never once he left
    assert len(wait_total(w.b, "qzsecretmark5", 1)["matches"]) == 1
    w.b.conversations_leave(channel=w.priv)
    assert now(w.b, "qzsecretmark5") == []
    # a deleted message is gone at once; edited-away text is not found, the new one is
    # (the index catches up a moment later; the engine's totals with it)
    w.a.chat_delete(channel=w.pub, ts=w.posts["lunch"]["ts"])
    assert now(w.a, f"{t} lunch") == []
    w.a.chat_update(channel=w.pub, ts=w.posts["train"]["ts"], text=f"{t} rollback everything")
    assert now(w.a, f'{t} "release train"') == []
    assert texts(wait_total(w.a, f"{t} rollback", 1)) == [f"{t} rollback everything"]
    wait_total(w.a, f"{t} lunch", 0)
    wait_total(w.a, f'{t} "release train"', 0)
    assert wait_total(w.b, "qzsecretmark5", 0)["matches"] == []


def now(client, query: str) -> list[dict]:
    """The matches of ``query`` right now, whatever the index has caught up with."""
    return client.search_messages(query=query, count=100)["messages"]["matches"]


def check_errors(srv: RunningServer, w: World) -> None:
    for query in ("", "   ", '"" -'):
        with pytest.raises(SlackApiError) as err:
            w.a.search_messages(query=query)
        assert err.value.response["error"] == "no_query"
    bot = srv.user(f"bot-{w.tag}", bot=True)
    with pytest.raises(SlackApiError) as err:
        srv.client(bot.token).search_messages(query="deploy")
    assert err.value.response["error"] in ("not_allowed_token_type", "missing_scope")
    narrow = srv.user(f"narrow-{w.tag}", scopes="channels:read")
    with pytest.raises(SlackApiError) as err:
        srv.client(narrow.token).search_messages(query="deploy")
    assert err.value.response["error"] == "missing_scope"
    for bad in ({"sort": "random"}, {"sort_dir": "sideways"}, {"count": -1}, {"page": 0}):
        with pytest.raises(SlackApiError) as err:
            w.a.search_messages(query="deploy", **bad)
        assert err.value.response["error"] == "invalid_arguments", bad
    with pytest.raises(SlackApiError) as err:
        w.a.search_messages(query="deploy", cursor="bogus")
    assert err.value.response["error"] == "invalid_cursor"


def check_all(srv: RunningServer, tag: str) -> None:
    w = World(srv, tag)
    check_query_language(w)
    check_sorting_paging_and_shape(w, srv.url)
    check_errors(srv, w)
    check_privacy(w)


def test_search_on_the_embedded_engine(server):
    check_all(server, "emb")


def test_the_index_follows_a_post_changed_at_once(server):
    """A post's document comes from its event, an edit's and a delete's from the store:
    changed before the indexer's next bulk write, or right after it, the index ends up
    with what the store holds."""
    web = server.client(server.user("quick-editor").token)
    room = web.conversations_create(name="quick-edits")["channel"]["id"]
    for round_ in range(5):
        tag = f"qe{round_}x"
        edited = web.chat_postMessage(channel=room, text=f"{tag} alpha")["ts"]
        web.chat_update(channel=room, ts=edited, text=f"{tag} beta")
        gone = web.chat_postMessage(channel=room, text=f"{tag} gamma")["ts"]
        web.chat_delete(channel=room, ts=gone)
        web.chat_postMessage(channel=room, text=f"{tag} delta")
        assert sorted(texts(wait_total(web, tag, 2))) == [f"{tag} beta", f"{tag} delta"]
        wait_total(web, f"{tag} alpha", 0)
        wait_total(web, f"{tag} gamma", 0)
