"""App unfurling's pure core (:mod:`parley.apps.unfurls`): domains, which links an app
hears of, unfurl ids, and a message's attachments with an app's unfurls."""

from __future__ import annotations

import orjson
import pytest

from parley.apps import unfurls
from parley.errors import ApiError
from parley.unfurl import meta


def test_a_domain_is_a_host_name_in_its_plain_form():
    assert unfurls.domain("Example.COM") == "example.com"
    assert unfurls.domain(" https://docs.example.com/ ") == "docs.example.com"
    assert unfurls.domain("*.example.com") == "example.com"
    assert unfurls.domain("localhost") == "localhost"
    assert unfurls.domain("bücher.example") == "xn--bcher-kva.example"
    for bad in ("", "example.com/path", "example.com:8080", "-x.com", "a..b", "10.0.0.1", "a b"):
        with pytest.raises(ValueError):
            unfurls.domain(bad)


def test_an_app_hears_of_the_links_on_its_domains_and_their_subdomains():
    urls = [
        "https://example.com/1",
        "https://docs.example.com/2",
        "https://notexample.com/3",
        "https://example.com.evil.test/4",
        "http://EXAMPLE.com./5",
    ]
    found = unfurls.shared(urls, ["example.com", "docs.example.com"])
    assert found == [
        {"domain": "example.com", "url": "https://example.com/1"},
        {"domain": "docs.example.com", "url": "https://docs.example.com/2"},  # the longest
        {"domain": "example.com", "url": "http://EXAMPLE.com./5"},
    ]
    assert unfurls.shared(urls, []) == []


def test_an_unfurl_id_names_a_message_for_one_app_only():
    ident = unfurls.unfurl_id("C1", 1_700_000_000_123_456, "A1")
    assert ident.startswith("C1.1700000000.123456.")
    assert unfurls.read_unfurl_id(ident, "A1") == ("C1", 1_700_000_000_123_456)
    assert unfurls.read_unfurl_id(ident, "A2") is None  # another app's
    assert unfurls.read_unfurl_id(ident.replace("C1", "C2", 1), "A1") is None
    assert unfurls.read_unfurl_id("nonsense", "A1") is None
    assert unfurls.read_unfurl_id("C1.x.y.z", "A1") is None


def test_link_shared_is_slacks_event():
    body = unfurls.link_shared(
        "C1",
        2_000_000,
        1_000_000,
        "UP",
        [{"domain": "a.test", "url": "https://a.test/"}],
        "A1",
        False,
        3_000_000,
    )
    assert body == {
        "type": "link_shared",
        "channel": "C1",
        "is_bot_user_member": False,
        "user": "UP",
        "message_ts": "2.000000",
        "unfurl_id": unfurls.unfurl_id("C1", 2_000_000, "A1"),
        "source": "conversations_history",
        "links": [{"domain": "a.test", "url": "https://a.test/"}],
        "event_ts": "3.000000",
        "thread_ts": "1.000000",
    }


def test_unfurls_are_a_json_object_of_links_to_attachments():
    given = unfurls.parse_unfurls('{"https://a.test/": {"text": "A"}, "https://b.test/": {}}')
    assert given == {"https://a.test/": {"text": "A"}, "https://b.test/": {}}
    assert unfurls.parse_unfurls("{}") == {}
    for raw, code in (
        ("not json", "invalid_unfurls_format"),
        ("[]", "invalid_unfurls_format"),
        ('{"https://a.test/": "text"}', "cannot_parse_attachment"),
        ('{"https://a.test/": {"blocks": [{"no": "type"}]}}', "cannot_parse_attachment"),
        ('{"https://a.test/": {"blocks": "x"}}', "cannot_parse_attachment"),
    ):
        with pytest.raises(ApiError) as err:
            unfurls.parse_unfurls(raw)
        assert err.value.code == code, raw


def attachments(change: str | None) -> list[dict]:
    assert change is not None
    return orjson.loads(change)["attachments"]


def test_an_apps_unfurl_replaces_its_own_and_the_servers_preview_of_the_link():
    own = {"text": "the author's"}
    preview = {"id": 2, "from_url": "https://a.test/", "title": "server's"}
    other_app = {
        "id": 3,
        "is_app_unfurl": True,
        "app_id": "A2",
        "app_unfurl_url": "https://a.test/",
    }
    rich = orjson.dumps({"attachments": [own, preview, other_app]}).decode()
    first = attachments(unfurls.unfurl(rich, {"https://a.test/": {"text": "app's"}}, "A1", "B1"))
    mine = {
        "id": 2,
        "text": "app's",
        "fallback": "https://a.test/",
        "app_unfurl_url": "https://a.test/",
        "is_app_unfurl": True,
        "app_id": "A1",
        "bot_id": "B1",
    }
    assert first == [own, mine, other_app]  # in the preview's place; another app's stays
    rich = orjson.dumps({"attachments": first}).decode()
    assert unfurls.unfurl(rich, {"https://a.test/": {"text": "app's"}}, "A1", "B1") is None
    again = attachments(unfurls.unfurl(rich, {"https://a.test/": {"text": "new"}}, "A1", "B1"))
    assert again[1]["text"] == "new" and len(again) == 3
    added = attachments(unfurls.unfurl(None, {"https://b.test/": {"blocks": []}}, "A1", "B1"))
    assert added[0]["app_unfurl_url"] == "https://b.test/" and added[0]["id"] == 1
    gone = attachments(unfurls.unfurl(rich, {"https://a.test/": {}}, "A1", "B1"))
    assert gone == [own, other_app]  # an empty one takes the app's off
    assert unfurls.unfurled_by(first, "A1") == {"https://a.test/"}
    assert unfurls.unfurled_by(first, "A2") == {"https://a.test/"}
    assert unfurls.unfurled_by(first, "A3") == set()


def test_server_previews_keep_the_apps_unfurls_of_links_still_in_the_message():
    app = {"id": 1, "is_app_unfurl": True, "app_id": "A1", "app_unfurl_url": "https://a.test/"}
    own = {"text": "own"}
    rich = orjson.dumps({"attachments": [own, app]}).decode()
    preview = {"id": 1, "from_url": "https://p.test/"}
    kept = attachments(meta.patch(rich, [preview], {"https://a.test/", "https://p.test/"}))
    assert kept == [own, app, preview]
    assert attachments(meta.patch(rich, [], {"https://p.test/"})) == [own]  # its link went
