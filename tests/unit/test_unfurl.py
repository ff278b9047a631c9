"""Link previews' pure parts (:mod:`parley.unfurl.links`, :mod:`parley.unfurl.meta`) and
the :class:`~parley.unfurl.service.Unfurler`'s decisions, with its fetch and write
stood in for (the real ones are in ``tests/app/test_unfurl.py``)."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from parley import content
from parley.errors import ApiError, Code
from parley.storage.models import Message
from parley.unfurl import meta
from parley.unfurl.links import APP, PERSON, Want, links, public, wanted
from parley.unfurl.meta import Page, Preview
from parley.unfurl.service import Unfurler


def test_links_are_found_in_slack_markup_and_written_out_outside_code():
    text = (
        "see <https://a.test/x|the docs> and https://b.test/y?q=1. "
        "Also (https://en.wikipedia.org/wiki/Foo_(bar)) and `https://code.test/` "
        "```https://block.test/```, <mailto:x@y.test|mail>, ftp://f.test/, "
        "https://a.test/x again, http://c.test"
    )
    assert links(text) == [
        "https://a.test/x",
        "https://b.test/y?q=1",
        "https://en.wikipedia.org/wiki/Foo_(bar)",
        "http://c.test",
    ]
    assert links(" ".join(f"https://h{i}.test/" for i in range(9))) == [
        f"https://h{i}.test/" for i in range(5)
    ]
    assert links("https://[not-ipv6/ https:///nohost") == []
    assert links("https://x.test/" + "a" * 3000) == []


def test_what_a_post_wants_previewed_by_default_and_when_asked():
    assert wanted(False, None, None) == PERSON == Want(True, True)
    assert wanted(True, None, None) == APP == Want(False, True)
    assert wanted(True, True, None) == Want(True, True)
    assert wanted(False, False, None) == Want(False, True)
    assert wanted(False, False, False) is None


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.1", False),
        ("172.16.0.1", False),
        ("169.254.169.254", False),  # the clouds' metadata service
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:93.184.216.34", True),
        ("224.0.0.1", False),
    ],
)
def test_only_public_addresses_may_be_fetched(address, ok):
    assert public(address) is ok


PAGE = b"""<!doctype html><html><head>
<meta charset="utf-8"><title>Plain title</title>
<meta property="og:title" content="The &amp; Title">
<meta property="og:description" content="  What it   is
 about. ">
<meta property="og:site_name" content="Example">
<meta property="og:image" content="/img/card.png">
<link rel="shortcut icon" href="https://cdn.test/fav.ico">
</head><body><meta property="og:title" content="not this"></body></html>"""


def test_a_pages_preview_comes_from_its_open_graph_tags():
    p = meta.read(Page("https://www.example.test/a/b", "text/html", None, None, PAGE))
    assert p == Preview(
        "page",
        "https://www.example.test/a/b",
        title="The & Title",
        text="What it is about.",
        site="Example",
        icon="https://cdn.test/fav.ico",
        image="https://www.example.test/img/card.png",
    )
    a = meta.attachment("https://example.test/a/b", p, 1)
    assert a == {
        "id": 1,
        "from_url": "https://example.test/a/b",
        "original_url": "https://example.test/a/b",
        "fallback": "Example: The & Title",
        "title": "The & Title",
        "title_link": "https://example.test/a/b",
        "text": "What it is about.",
        "service_name": "Example",
        "service_icon": "https://cdn.test/fav.ico",
        "image_url": "https://www.example.test/img/card.png",
    }


def test_a_page_without_open_graph_falls_back_to_its_title_and_host():
    body = "<html><head><title> Caf\xe9  menu </title><meta name=description content=Food>"
    page = Page("https://www.cafe.test/", "text/html", "latin-1", None, body.encode("latin-1"))
    p = meta.read(page)
    assert (p.title, p.text, p.site, p.image, p.icon) == ("Café menu", "Food", "cafe.test", "", "")
    # the charset from the document's own meta tag when the answer gives none
    body = '<meta charset="iso-8859-1"><title>Caf\xe9</title>'.encode("latin-1")
    assert meta.read(Page("https://cafe.test/", "text/html", None, None, body)).title == "Café"


def test_what_is_not_previewed():
    untitled = Page("https://x.test/", "text/html", None, None, b"<p>no head</p>")
    pdf = Page("https://x.test/a.pdf", "application/pdf", None, 10, b"")
    unsafe = Page(
        "https://x.test/",
        "text/html",
        None,
        None,
        b'<title>t</title><meta property="og:image" content="javascript:alert(1)">',
    )
    assert meta.read(untitled) is None and meta.read(pdf) is None
    assert meta.read(unsafe).image == ""
    long = Page("https://x.test/", "text/html", None, None, b"<title>" + b"w " * 400)
    assert len(meta.read(long).title) == meta.MAX_TITLE and meta.read(long).title.endswith("…")


def test_an_image_is_previewed_as_itself():
    p = meta.read(Page("https://x.test/cat.gif", "image/gif", None, 1234, b""))
    assert meta.attachment("https://x.test/cat", p, 2) == {
        "id": 2,
        "from_url": "https://x.test/cat",
        "original_url": "https://x.test/cat",
        "fallback": "Image",
        "image_url": "https://x.test/cat.gif",
        "image_bytes": 1234,
    }


def test_previews_replace_the_old_ones_and_keep_the_authors_attachments():
    own = {"text": "mine", "color": "good"}
    old = {"id": 1, "from_url": "https://old.test/", "title": "Old"}
    new = {"id": 1, "from_url": "https://new.test/", "title": "New"}
    rich = orjson.dumps({"blocks": [{"type": "divider"}], "attachments": [own, old]}).decode()
    change = meta.patch(rich, [new])
    assert orjson.loads(change) == {"attachments": [own, new]}
    merged = content.fields(content.merge(rich, change))
    assert merged["blocks"] == [{"type": "divider"}] and merged["attachments"] == [own, new]
    assert meta.patch(content.merge(rich, change), [new]) is None  # nothing to change
    assert orjson.loads(meta.patch(rich, [])) == {"attachments": [own]}
    assert meta.patch(None, []) is None
    assert orjson.loads(meta.patch(None, [new] * 200))["attachments"] == [new] * 100


def message(text: str, version: int = 0, rich: str | None = None) -> Message:
    return Message(1, "C1", "T1", 1, 1_000_000, "U1", None, text, version=version, rich=rich)


class World:
    """What the web shows (``pages``), what was fetched, and what was written."""

    def __init__(self, pages: dict[str, Page | None]) -> None:
        self.pages = pages
        self.fetched: list[str] = []
        self.written: list[tuple[Message, dict]] = []
        self.refuse: ApiError | None = None

    async def fetch(self, url: str) -> Page | None:
        self.fetched.append(url)
        await asyncio.sleep(0)
        return self.pages.get(url)

    async def write(self, m: Message, change_of) -> None:
        if self.refuse is not None:
            raise self.refuse
        change = change_of(m)
        assert change is not None  # the unfurler writes only what changes
        self.written.append((m, orjson.loads(change)))


def html(title: str) -> bytes:
    return f"<title>{title}</title>".encode()


WEB = {
    "https://p.test/": Page("https://p.test/", "text/html", None, None, html("P")),
    "https://i.test/a.png": Page("https://i.test/a.png", "image/png", None, 9, b""),
    "https://down.test/": None,
}


async def settle(unfurler: Unfurler) -> None:
    while unfurler.pending:
        await asyncio.sleep(0.001)


def test_the_unfurler_writes_what_is_wanted_once_and_remembers_pages():
    async def go():
        world = World(WEB)
        u = Unfurler(world.fetch, world.write)
        text = "https://p.test/ https://i.test/a.png https://down.test/"
        u.submit(message(text), PERSON)
        await settle(u)
        u.submit(message(text), APP)  # the same links again: not fetched again
        await settle(u)
        u.submit(message("no links"), PERSON)  # nothing to do, no task
        assert u.pending == 0
        return world

    world = asyncio.run(go())
    assert world.fetched == ["https://p.test/", "https://i.test/a.png", "https://down.test/"]
    (m1, c1), (m2, c2) = world.written
    assert [a["from_url"] for a in c1["attachments"]] == ["https://p.test/", "https://i.test/a.png"]
    assert [a["id"] for a in c1["attachments"]] == [1, 2]
    assert [a["from_url"] for a in c2["attachments"]] == ["https://i.test/a.png"]  # an app's
    assert c2["attachments"][0]["id"] == 1


def test_an_edit_that_removes_the_links_removes_the_previews_and_a_refused_write_is_dropped():
    shown = orjson.dumps({"attachments": [{"id": 1, "from_url": "https://p.test/"}]}).decode()

    async def go():
        world = World(WEB)
        u = Unfurler(world.fetch, world.write)
        u.submit(message("links gone", version=2, rich=shown), PERSON)
        await settle(u)
        world.refuse = ApiError(Code.MESSAGE_NOT_FOUND)  # deleted meanwhile: no matter
        u.submit(message("https://p.test/", version=3), PERSON)
        await settle(u)
        await u.close()
        return world

    world = asyncio.run(go())
    assert world.written == [(message("links gone", version=2, rich=shown), {"attachments": []})]


def test_links_apps_unfurl_are_not_fetched_and_apps_are_told_without_previews_too():
    told: list[tuple[str, bool]] = []

    async def share(m: Message, tell: bool) -> set[str]:
        told.append((m.text, tell))
        return {"https://p.test/"}  # an app's

    async def go():
        world = World(WEB)
        u = Unfurler(world.fetch, world.write, share=share)
        u.submit(message("https://p.test/ https://i.test/a.png"), PERSON)
        await settle(u)
        off = Unfurler(None, world.write, share=share)  # PARLEY_UNFURL=0: apps still hear
        off.submit(message("https://p.test/ https://i.test/a.png"), APP)
        await settle(off)
        return world

    world = asyncio.run(go())
    assert world.fetched == ["https://i.test/a.png"]
    [(_m, change)] = world.written
    assert [a["from_url"] for a in change["attachments"]] == ["https://i.test/a.png"]
    text = "https://p.test/ https://i.test/a.png"
    assert told == [(text, True), (text, False)]  # an app's post wants no page unfurled
