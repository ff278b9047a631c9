"""The web client in a real browser: two people chatting, going offline and coming back,
hostile message text, and a send that fails and is retried."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
from slack_bolt import App
from slack_sdk import WebClient

from parley import admin
from tests.app.test_files import png
from tests.app.test_modals import TICKET_VIEW
from tests.helpers import TEST_RATE_LIMIT, HttpReceiver, bolt_over_socket_mode, server_in_thread
from tests.subscriber import wait_for

PASSWORD = "correct horse battery"


@pytest.fixture
def world(tmp_path):
    """A server with alice and bob (passwords), both in #general; yields (server, channel)."""
    with server_in_thread(tmp_path / "data") as srv:
        alice = srv.user("alice", password=PASSWORD, rate_limit=TEST_RATE_LIMIT)
        bob = srv.user("bob", password=PASSWORD, rate_limit=TEST_RATE_LIMIT)
        general = admin.ensure_channel(
            srv.settings, alice.team_id, "general", alice.user_id, [alice.user_id, bob.user_id]
        )
        yield srv, general.id, alice, bob


def sign_in(browser, url: str, name: str, context=None):
    """Signs ``name`` in, in a new context (another browser) or a new page of
    ``context`` (another window of the same browser)."""
    context = context or browser.new_context(viewport={"width": 1100, "height": 700})
    page = context.new_page()
    hosts: list[str] = []
    page.on("request", lambda r: hosts.append(r.url.split("/")[2]))
    page.hosts = hosts  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    page.goto(url + "/")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#app:not([hidden])")
    page.wait_for_selector("body[data-connection=open]")
    page.errors = errors  # type: ignore[attr-defined]
    return context, page


def say(page, text: str, composer: str = "#composer textarea") -> None:
    page.fill(composer, text)
    page.press(composer, "Enter")


def texts(page, selector: str = "#messages .msg .text") -> list[str]:
    return page.eval_on_selector_all(selector, "els => els.map(e => e.innerText)")


def test_two_people_chat_live(browser, world, shots):
    srv, _general, _alice, _bob = world
    _ca, alice = sign_in(browser, srv.url, "alice")
    _cb, bob = sign_in(browser, srv.url, "bob")
    say(alice, "hello bob")
    bob.wait_for_selector("#messages .msg:has-text('hello bob')", timeout=1000)
    alice.wait_for_selector("#messages .msg:not(.pending):has-text('hello bob')")
    bob.fill("#composer textarea", "hi alice")
    bob.press("#composer textarea", "Shift+Enter")  # a new line, not a send
    bob.type("#composer textarea", "second line")
    assert bob.input_value("#composer textarea") == "hi alice\nsecond line"
    bob.press("#composer textarea", "Enter")
    alice.wait_for_selector("#messages .msg:has-text('second line')", timeout=1000)
    # a reaction, an edit, a thread reply and a delete show up on the other side
    item = "#messages .msg:has-text('hello bob')"
    bob.hover(item)
    bob.click(f"{item} .actions button[title=React]")
    alice.wait_for_selector(f"{item} .reactions button[data-reaction=thumbsup]:has-text('👍 1')")
    bob.click(f"{item} .actions button[title='More reactions']")
    bob.click("#popup-menu button:has-text(':tada:')")
    alice.wait_for_selector(f"{item} .reactions button[data-reaction=tada]:has-text('🎉 1')")
    alice.hover(item)
    alice.click(f"{item} .actions button[title=Edit]")
    alice.fill("#messages textarea.edit", "hello bob, edited")
    alice.press("#messages textarea.edit", "Enter")
    bob.wait_for_selector("#messages .msg:has-text('hello bob, edited') .edited")
    bob.hover("#messages .msg:has-text('hello bob, edited')")
    bob.click(
        "#messages .msg:has-text('hello bob, edited') .actions button[title='Reply in thread']"
    )
    say(bob, "a reply in the thread", "#thread-composer textarea")
    alice.wait_for_selector("#messages .msg:has-text('hello bob, edited') .replies")
    bob.wait_for_selector("#thread-messages .msg:has-text('a reply in the thread')")
    bob.screenshot(path=str(shots / "chat.png"))
    gone = "#messages .msg:has-text('second line')"
    bob.hover(gone)
    bob.click(f"{gone} .actions button[title=Delete]")
    alice.wait_for_selector(gone, state="detached")
    alice.screenshot(path=str(shots / "chat-alice.png"))
    assert alice.errors == [] and bob.errors == []  # type: ignore[attr-defined]


def test_offline_then_back_gets_everything_in_order_once(browser, world):
    srv, _general, _alice, _bob = world
    ca, alice = sign_in(browser, srv.url, "alice")
    _cb, bob = sign_in(browser, srv.url, "bob")
    say(alice, "draft stays")  # sent before going offline
    bob.wait_for_selector("#messages .msg:has-text('draft stays')")
    bob.fill("#composer textarea", "half-typed")
    bob.context.set_offline(True)
    bob.wait_for_selector("body[data-connection=down]")
    for i in range(30):
        say(alice, f"missed {i:02d}")
    alice.wait_for_function(
        "() => document.querySelectorAll('#messages .msg.pending').length === 0"
    )
    bob.context.set_offline(False)
    bob.wait_for_selector("#messages .msg:has-text('missed 29')", timeout=15000)
    bob.wait_for_selector("body[data-connection=open]")
    got = [t for t in texts(bob) if t.startswith("missed")]
    assert got == [f"missed {i:02d}" for i in range(30)]  # in order, each once
    assert bob.input_value("#composer textarea") == "half-typed"  # no reload
    ca.close()


def test_what_changed_while_offline_shows_once_back(browser, world, shots):
    """Edits, deletions and reactions keep their message's seq, so resume does not
    replay them: coming back, the client reads the channel again and shows them; a
    deleted message that has replies stays as a tombstone."""
    srv, general, alice, bob = world
    web = srv.client(alice.token)
    ts = {t: web.chat_postMessage(channel=general, text=t)["ts"] for t in ("one", "two", "three")}
    parent = web.chat_postMessage(channel=general, text="a parent")["ts"]
    srv.client(bob.token).chat_postMessage(channel=general, text="its reply", thread_ts=parent)
    _cb, page = sign_in(browser, srv.url, "bob")
    page.wait_for_selector("#messages .msg:has-text('a parent') .replies")
    page.context.set_offline(True)
    page.wait_for_selector("body[data-connection=down]")
    web.chat_update(channel=general, ts=ts["one"], text="one, edited")
    web.chat_delete(channel=general, ts=ts["two"])
    web.reactions_add(channel=general, timestamp=ts["three"], name="eyes")
    web.chat_delete(channel=general, ts=parent)
    page.context.set_offline(False)
    page.wait_for_selector("#messages .msg:has-text('one, edited') .edited", timeout=15000)
    page.wait_for_selector("#messages .msg:has-text('two')", state="detached")
    page.wait_for_selector("#messages .msg:has-text('three') .reactions [data-reaction=eyes]")
    stone = "#messages .msg.deleted:has-text('This message was deleted.')"
    page.wait_for_selector(f"{stone} .replies")
    assert not page.query_selector("#messages .msg:has-text('a parent')")
    page.screenshot(path=str(shots / "offline-changes.png"))
    page.click(f"{stone} .replies")
    page.wait_for_selector("#thread-messages .msg:has-text('its reply')")
    # live, too: a parent deleted while connected becomes a tombstone, a lone message goes
    live = web.chat_postMessage(channel=general, text="live parent")["ts"]
    web.chat_postMessage(channel=general, text="live reply", thread_ts=live)
    page.wait_for_selector("#messages .msg:has-text('live parent') .replies")
    web.chat_delete(channel=general, ts=live)
    page.wait_for_selector("#messages .msg:has-text('live parent')", state="detached")
    page.wait_for_function(
        "() => document.querySelectorAll('#messages .msg.deleted .replies').length === 2"
    )
    assert page.errors == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "payload",
    [
        "<img src=x onerror=alert(1)>",
        "<script>alert(2)</script>",
        '"><svg onload=alert(3)>',
        "javascript:alert(4)",
        "[click](javascript:alert(5)) <a href='javascript:alert(6)'>x</a>",
    ],
)
def test_hostile_text_renders_as_text_and_runs_nothing(browser, world, payload):
    srv, _general, _alice, _bob = world
    _ca, alice = sign_in(browser, srv.url, "alice")
    _cb, bob = sign_in(browser, srv.url, "bob")
    say(alice, payload)
    bob.wait_for_function(
        "p => [...document.querySelectorAll('#messages .msg .text')].some(e => e.innerText === p)",
        arg=payload,
    )
    assert (
        bob.eval_on_selector_all("#messages img, #messages script, #messages svg", "e => e.length")
        == 0
    )
    hrefs = bob.eval_on_selector_all("#messages a[href]", "els => els.map(a => a.href)")
    assert all(h.startswith(("http:", "https:")) for h in hrefs)
    assert bob.errors == [] and alice.errors == []  # type: ignore[attr-defined]  # no alert


def test_a_failed_send_shows_failed_and_a_retry_posts_it_once(browser, tmp_path, shots):
    data = tmp_path / "data"
    with server_in_thread(data) as srv:
        port = srv.settings.port
        alice = srv.user("alice", password=PASSWORD, rate_limit=TEST_RATE_LIMIT)
        general = admin.ensure_channel(
            srv.settings, alice.team_id, "general", alice.user_id, [alice.user_id]
        )
        _ca, page = sign_in(browser, srv.url, "alice")
    # the server is gone
    say(page, "sent while down")
    page.wait_for_selector("#messages .msg.failed:has-text('sent while down') button.retry")
    page.screenshot(path=str(shots / "failed-send.png"))
    with server_in_thread(data, port=port) as srv:
        page.click("#messages .msg.failed button.retry")
        page.wait_for_selector(
            "#messages .msg:not(.pending):not(.failed):has-text('sent while down')"
        )
        history = srv.client(alice.token).conversations_history(channel=general.id)["messages"]
        assert [m["text"] for m in history].count("sent while down") == 1


def test_sidebar_unread_mentions_private_typing_presence_and_older_history(browser, world, shots):
    srv, general, alice_creds, _bob = world
    api = srv.client(alice_creds.token)
    for i in range(120):  # more than one page of history
        api.chat_postMessage(channel=general, text=f"old {i:03d}")
    _ca, alice = sign_in(browser, srv.url, "alice")
    _cb, bob = sign_in(browser, srv.url, "bob")
    bob.wait_for_selector("#messages .msg:has-text('old 119')")
    assert bob.locator("#messages .msg:has-text('old 000')").count() == 0
    for _ in range(10):  # scrolling up loads older pages, keeping the place
        bob.eval_on_selector(
            "#messages", "el => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); }"
        )
        bob.wait_for_timeout(150)
        if bob.locator("#messages .msg:has-text('old 000')").count():
            break
    got = [t for t in texts(bob) if t.startswith("old ")]
    assert got == [f"old {i:03d}" for i in range(120)]
    # presence: both are online
    bob.wait_for_selector("#people li:has-text('alice') .dot.active")
    # typing
    alice.fill("#composer textarea", "typing something")
    bob.wait_for_selector("#typing:has-text('alice is typing')")
    alice.fill("#composer textarea", "")
    # a public channel made by alice; bob joins it from the sidebar
    alice.fill("#create-form input[name=name]", "random")
    alice.click("#create-form button[type=submit]")
    alice.wait_for_selector("#channel-title:has-text('random')")
    bob.click("#other-channels li:has-text('random')")
    bob.wait_for_selector("#channels li:has-text('random')")
    bob.click("#channels li:has-text('general')")
    say(alice, "news in random")
    bob.wait_for_selector("#channels li.unread:has-text('random') .count:has-text('1')")
    say(alice, "@bob look here")
    bob.wait_for_selector("#channels li:has-text('random') .badge:has-text('1')")
    # a private channel: marked for alice, invisible to bob
    alice.fill("#create-form input[name=name]", "secret")
    alice.check("#create-form input[name=private]")
    alice.click("#create-form button[type=submit]")
    alice.wait_for_selector("#channels li:has-text('🔒 secret')")
    say(alice, "for my eyes only")
    alice.wait_for_selector("#messages .msg:not(.pending):has-text('for my eyes only')")
    bob.screenshot(path=str(shots / "sidebar.png"))
    assert bob.locator("#sidebar :text('secret')").count() == 0
    # reading a channel clears its badge
    bob.click("#channels li:has-text('random')")
    bob.wait_for_selector("#channels li.active:has-text('random')")
    assert bob.locator("#channels li:has-text('random') .badge").count() == 0
    # leaving moves it back to the other channels
    bob.click("#leave")
    bob.wait_for_selector("#other-channels li:has-text('random')")
    assert alice.errors == [] and bob.errors == []  # type: ignore[attr-defined]


def test_a_direct_message_from_the_people_list(browser, world, shots):
    """alice clicks bob among the people: a direct message opens (titled @bob, no
    Leave); what she writes reaches bob's sidebar as a DM with a badge (every DM is for
    him), and he reads it there."""
    srv, _general, _alice, bob_creds = world
    _ca, alice = sign_in(browser, srv.url, "alice")
    _cb, bob = sign_in(browser, srv.url, "bob")
    alice.click(f"#people li[data-user={bob_creds.user_id}]")
    alice.wait_for_selector("#channel-title:has-text('@bob')")
    assert alice.is_hidden("#leave")
    say(alice, "just between us")
    alice.wait_for_selector("#messages .msg:not(.pending):has-text('just between us')")
    dm = "#dms li:has-text('@alice')"
    bob.wait_for_selector(f"{dm} .badge:has-text('1')")
    assert bob.locator("#other-channels li").count() == 0  # not offered to anyone to join
    bob.click(dm)
    bob.wait_for_selector("#messages .msg:has-text('just between us')")
    say(bob, "agreed")
    alice.wait_for_selector("#messages .msg:has-text('agreed')", timeout=2000)
    bob.screenshot(path=str(shots / "direct-message.png"))
    assert alice.errors == [] and bob.errors == []  # type: ignore[attr-defined]


def test_a_closed_direct_message_leaves_the_list_until_someone_writes(browser, world):
    """bob closes his direct message with alice: it leaves his list, also in his other
    window and after a reload; when alice writes again it comes back with a badge."""
    srv, general, alice_creds, bob_creds = world
    alice_web = srv.client(alice_creds.token)
    alice_web.chat_postMessage(channel=bob_creds.user_id, text="hi bob")  # opens the DM
    context, bob = sign_in(browser, srv.url, "bob")
    _, bob_too = sign_in(browser, srv.url, "bob", context=context)
    dm = "#dms li:has-text('@alice')"
    for page in (bob, bob_too):
        page.wait_for_selector(dm)
    bob.click(f"#channels li[data-channel={general}]")
    bob.hover(dm)
    bob.click(f"{dm} .close-dm")
    for page in (bob, bob_too):
        page.wait_for_selector(dm, state="detached")
    bob.reload()
    bob.wait_for_selector("body[data-connection=open]")
    assert bob.locator(dm).count() == 0
    alice_web.chat_postMessage(channel=bob_creds.user_id, text="still there?")
    for page in (bob, bob_too):
        page.wait_for_selector(f"{dm} .badge:has-text('1')")
    assert bob.errors == [] and bob_too.errors == []  # type: ignore[attr-defined]


def test_a_group_direct_message_from_named_people(browser, world, shots):
    """alice names bob and carol: a group direct message opens, titled with their names,
    no Leave; it reaches both as a direct conversation with a badge, and both answer."""
    srv, _general, _alice, _bob = world
    srv.user("carol", password=PASSWORD, rate_limit=TEST_RATE_LIMIT)
    _ca, alice = sign_in(browser, srv.url, "alice")
    _cb, bob = sign_in(browser, srv.url, "bob")
    _cc, carol = sign_in(browser, srv.url, "carol")
    alice.wait_for_selector("#people li:has-text('carol')")
    alice.fill("#group-form input[name=people]", "@nobody")
    alice.press("#group-form input[name=people]", "Enter")
    alice.wait_for_selector("#notice:has-text('Nobody is called nobody')")
    alice.fill("#group-form input[name=people]", "@bob @carol")
    alice.press("#group-form input[name=people]", "Enter")
    alice.wait_for_selector("#channel-title:has-text('bob, carol')")
    assert alice.is_hidden("#leave")
    say(alice, "the three of us")
    alice.wait_for_selector("#messages .msg:not(.pending):has-text('the three of us')")
    for page, title in ((bob, "alice, carol"), (carol, "alice, bob")):
        group = f"#dms li:has-text('{title}')"
        page.wait_for_selector(f"{group} .badge:has-text('1')")
        page.click(group)
        page.wait_for_selector("#messages .msg:has-text('the three of us')")
    say(bob, "bob here")
    say(carol, "carol too")
    for page in (alice, bob, carol):
        page.wait_for_selector("#messages .msg:has-text('carol too')")
        page.wait_for_selector("#messages .msg:has-text('bob here')")
    carol.screenshot(path=str(shots / "group-message.png"))
    assert [p.errors for p in (alice, bob, carol)] == [[], [], []]  # type: ignore[attr-defined]


def test_a_file_attached_shows_to_the_channel_and_an_image_inline(browser, world, shots):
    """alice attaches an image and a text file with a comment: bob sees one message with
    the comment, the image drawn (fetched with his session) and a link that downloads
    the text file; once she deletes the text file, his page says so at once."""
    srv, _general, alice_creds, _bob = world
    _ca, alice = sign_in(browser, srv.url, "alice")
    _cb, bob = sign_in(browser, srv.url, "bob")
    alice.fill("#composer textarea", "the chart, and its numbers")
    alice.set_input_files(
        "#attach",
        [
            {"name": "chart.png", "mimeType": "image/png", "buffer": png(160, 80, (43, 172, 118))},
            {"name": "numbers.csv", "mimeType": "text/csv", "buffer": b"a,b\n1,2\n"},
        ],
    )
    bob.wait_for_selector("#messages .msg:has-text('chart.png') .file img[src^='blob:']")
    bob.wait_for_selector("#messages .msg .file-link:has-text('numbers.csv')")
    assert bob.locator("#messages .msg:has-text('the chart, and its numbers')").count() == 1
    assert bob.locator("#messages .msg .file").count() == 2  # one message, both files
    width = bob.eval_on_selector("#messages .file img", "img => img.naturalWidth")
    assert width == 160  # the PNG itself, drawn
    with bob.expect_download() as got:
        bob.click("#messages .file-link:has-text('numbers.csv')")
    assert got.value.suggested_filename == "numbers.csv"
    assert Path(got.value.path()).read_bytes() == b"a,b\n1,2\n"
    bob.screenshot(path=str(shots / "files.png"))
    web = srv.client(alice_creds.token)
    [csv] = [f for f in web.files_list()["files"] if f["name"] == "numbers.csv"]
    web.files_delete(file=csv["id"])
    bob.wait_for_selector(
        "#messages .file-gone:has-text('This file was deleted.')"
    )  # its tombstone
    assert bob.locator("#messages .msg .file img").count() == 1  # the image stays
    assert alice.errors == [] and bob.errors == []  # type: ignore[attr-defined]


def test_two_windows_of_one_browser_are_two_people(browser, world):
    """The newcomer's way: alice and bob in two windows of the same browser (one cookie
    jar); each window stays who signed in there, and nothing is fetched from elsewhere."""
    srv, _general, _alice, _bob = world
    context, alice = sign_in(browser, srv.url, "alice")
    _, bob = sign_in(browser, srv.url, "bob", context=context)
    say(alice, "from alice's window")
    say(bob, "from bob's window")
    for page in (alice, bob):
        page.wait_for_selector('#messages .msg:has-text("from bob\'s window")')
        page.wait_for_selector('#messages .msg:has-text("from alice\'s window")')
    who = bob.eval_on_selector_all(
        "#messages .msg:not(.pending) .who", "els => els.map(e => e.textContent)"
    )
    assert who[-2:] == ["alice", "bob"]
    alice.reload()  # a reload keeps the window's person
    alice.wait_for_selector("#me:has-text('@alice')")
    host = srv.url.split("/")[2]
    for page in (alice, bob):
        assert set(page.hosts) == {host}  # type: ignore[attr-defined]
    context.close()


def test_an_ephemeral_message_shows_to_its_reader_only(browser, world):
    """A bot's ``chat.postEphemeral`` to bob: bob's window shows it, marked and without
    actions; alice's does not; a reload loses it (it was never stored)."""
    srv, general, alice_creds, bob_creds = world
    _ca, alice = sign_in(browser, srv.url, "alice")
    _cb, bob = sign_in(browser, srv.url, "bob")
    web = srv.client(alice_creds.token)
    web.chat_postEphemeral(channel=general, user=bob_creds.user_id, text="just for bob")
    web.chat_postMessage(channel=general, text="for both")
    item = "#messages .msg.ephemeral:has-text('just for bob')"
    bob.wait_for_selector(f"{item} .only-you")
    assert bob.eval_on_selector_all(f"{item} .actions", "els => els.length") == 0
    alice.wait_for_selector("#messages .msg:has-text('for both')")
    assert not any("just for bob" in t for t in texts(alice))
    bob.reload()
    bob.wait_for_selector("#messages .msg:has-text('for both')")
    assert not any("just for bob" in t for t in texts(bob))
    assert alice.errors == [] and bob.errors == []  # type: ignore[attr-defined]


def test_a_permalink_opens_its_channel_at_the_message(browser, world):
    """``chat.getPermalink``'s link, opened in the browser (signing in first), shows the
    message's channel with the message marked."""
    srv, general, alice_creds, _bob = world
    web = srv.client(alice_creds.token)
    other = web.conversations_create(name="elsewhere")["channel"]["id"]
    ts = web.chat_postMessage(channel=other, text="the linked one")["ts"]
    web.chat_postMessage(channel=general, text="not this one")
    link = web.chat_getPermalink(channel=other, message_ts=ts)["permalink"]
    context = browser.new_context(viewport={"width": 1100, "height": 700})
    page = context.new_page()
    page.goto(link)
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#messages .msg.linked:has-text('the linked one')")
    assert "elsewhere" in page.inner_text("#channel-title")
    context.close()


def test_a_topic_and_a_rename_show_as_they_happen(browser, world):
    """The server's notes of a channel's topic and new name show in the channel, as who
    did what; the sidebar and the title take the new name."""
    srv, general, alice_creds, _bob = world
    _cb, bob = sign_in(browser, srv.url, "bob")
    web = srv.client(alice_creds.token)
    web.conversations_setTopic(channel=general, topic="Launch week")
    web.conversations_rename(channel=general, name="launch")
    bob.wait_for_selector(
        "#messages .msg.notice:has-text('alice set the channel topic: Launch week')"
    )
    bob.wait_for_selector("#messages .msg.notice:has-text('renamed the channel from')")
    bob.wait_for_selector("#channel-title:has-text('launch')")
    assert bob.eval_on_selector_all("#messages .msg.notice .actions", "els => els.length") == 0
    assert bob.errors == []  # type: ignore[attr-defined]


def test_unread_counts_survive_a_reload_and_reading_clears_them_everywhere(browser, world):
    """The read marks live on the server: a reload shows what is still unread, and
    reading a channel in one window clears its count in the same person's other one."""
    srv, general, alice_creds, bob_creds = world
    bob_api = srv.client(bob_creds.token)
    random = srv.client(alice_creds.token).conversations_create(name="random")["channel"]["id"]
    bob_api.conversations_join(channel=random)
    context, first = sign_in(browser, srv.url, "alice")  # opens #general, reads it
    bob_api.chat_postMessage(channel=random, text="one")
    bob_api.chat_postMessage(channel=random, text="two")
    unread_two = "#channels li.unread:has-text('random') .count:has-text('2')"
    first.wait_for_selector(unread_two)
    first.reload()
    first.wait_for_selector(unread_two)  # from the server, not from this page's memory
    _c2, second = sign_in(browser, srv.url, "alice", context)
    second.wait_for_selector(unread_two)
    second.click("#channels li:has-text('random')")
    second.wait_for_selector("#messages .msg:has-text('two')")
    first.wait_for_selector("#channels li:has-text('random') .count", state="detached")
    first.reload()
    first.wait_for_selector("#channels li:has-text('random')")
    first.wait_for_timeout(500)
    assert first.locator("#channels li:has-text('random') .count").count() == 0
    assert first.errors == [] and second.errors == []  # type: ignore[attr-defined]


def test_a_slash_command_runs_and_its_app_answers_only_to_who_ran_it(browser, world):
    """``/deploy staging`` in the composer runs the command (it is not posted); the app's
    answer shows to bob only; a command the workspace lacks says so."""
    srv, _general, _alice_creds, _bob = world
    app = HttpReceiver(body=b'{"text": "deploying to staging"}', content_type="application/json")
    try:
        bot = srv.user("deploybot", bot=True)
        admin.register_command(srv.settings, bot.user_id, "/deploy", app.url)
        _ca, alice = sign_in(browser, srv.url, "alice")
        _cb, bob = sign_in(browser, srv.url, "bob")
        say(bob, "/deploy staging")
        bob.wait_for_selector("#messages .msg.ephemeral:has-text('deploying to staging')")
        ((_headers, raw),) = app.got
        assert b"text=staging" in raw
        say(bob, "/nosuch thing")
        bob.wait_for_selector("#notice:has-text('/nosuch is not a command here.')")
        assert bob.input_value("#composer textarea") == "/nosuch thing"  # given back
        bob.fill("#composer textarea", "")
        say(bob, "/usr/bin is a path")  # not a command: a message
        bob.wait_for_selector("#messages .msg:not(.pending):has-text('/usr/bin is a path')")
        say(alice, "after the commands")
        bob.wait_for_selector("#messages .msg:has-text('after the commands')")
        assert not any("/deploy" in t or "/nosuch" in t for t in texts(bob))  # not posted
        assert not any("deploying" in t for t in texts(alice))
        assert alice.errors == [] and bob.errors == []  # type: ignore[attr-defined]
    finally:
        app.close()


def test_a_user_group_mention_is_sent_as_one_and_shows_to_its_members(browser, world):
    """alice types ``@oncall``: it is sent as the group's mention, and bob, a member,
    sees it marked as his; a group made while the page is open is known at once."""
    srv, general, alice_creds, bob_creds = world
    _ca, alice = sign_in(browser, srv.url, "alice")
    _cb, bob = sign_in(browser, srv.url, "bob")
    web = srv.client(alice_creds.token)
    group = web.usergroups_create(name="On call", handle="oncall")["usergroup"]
    web.usergroups_users_update(usergroup=group["id"], users=bob_creds.user_id)
    say(alice, "@oncall the build is red")
    bob.wait_for_selector("#messages .msg .mention.me:has-text('@oncall')")
    alice.wait_for_selector("#messages .msg:not(.pending) .mention:has-text('@oncall')")
    assert alice.locator("#messages .mention.me:has-text('@oncall')").count() == 0  # not hers
    [sent] = web.conversations_history(channel=general, limit=1)["messages"]
    assert sent["text"] == f"<!subteam^{group['id']}|@oncall> the build is red"
    assert alice.errors == [] and bob.errors == []  # type: ignore[attr-defined]


def test_a_user_group_made_and_filled_in_the_page_shows_to_everyone(browser, world):
    """alice makes "Release crew" and puts bob in it: both sidebars list @release-crew
    with one member, and alice's mention of it is bob's."""
    srv, _general, _alice, bob_creds = world
    _ca, alice = sign_in(browser, srv.url, "alice")
    _cb, bob = sign_in(browser, srv.url, "bob")
    alice.fill("#usergroup-form input[name=name]", "Release crew")
    alice.click("#usergroup-form button[type=submit]")
    alice.fill("#ask input", "@bob")
    alice.click("#ask button[value=ok]")
    for page in (alice, bob):
        page.wait_for_selector("#groups li:has-text('@release-crew') .status:has-text('1')")
    group = srv.client(bob_creds.token).usergroups_list(include_users=True)["usergroups"][0]
    assert group["users"] == [bob_creds.user_id]
    say(alice, "@release-crew ship it")
    bob.wait_for_selector("#messages .msg .mention.me:has-text('@release-crew')")
    alice.click("#groups li:has-text('@release-crew')")  # shows who is in it
    assert alice.input_value("#ask input") == "@bob"
    alice.click("#ask button[value=cancel]")
    assert alice.errors == [] and bob.errors == []  # type: ignore[attr-defined]


def test_an_apps_modal_opens_takes_its_errors_and_closes_once_submitted(browser, world, shots):
    """bob runs ``/ticket``: the Bolt app's modal opens; submitted empty, the page says
    what is required; the app's own error shows under its input; its button makes the
    app add an input (what bob typed stays); filled in, it closes and the app files the
    ticket in the channel."""
    srv, general, alice_creds, _bob = world
    bot = srv.user("ticketbot", bot=True, app_token=True)
    srv.client(alice_creds.token).conversations_invite(channel=general, users=bot.user_id)
    admin.register_command(srv.settings, bot.user_id, "/ticket")
    app = App(client=WebClient(token=bot.token, base_url=f"{srv.url}/api/"))

    button = {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": "add",
                "text": {"type": "plain_text", "text": "Add details"},
            }
        ],
    }
    details = {
        "type": "input",
        "block_id": "details",
        "label": {"type": "plain_text", "text": "Details"},
        "element": {"type": "plain_text_input", "action_id": "d", "multiline": True},
    }

    @app.command("/ticket")
    def open_ticket(ack, body, client):
        ack()
        view = {
            **TICKET_VIEW,
            "private_metadata": body["channel_id"],
            "blocks": [*TICKET_VIEW["blocks"], button],
        }
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action("add")
    def add_details(ack, body, client):
        ack()
        view = body["view"]
        blocks = [b for b in view["blocks"] if b["type"] == "input"] + [details]
        keep = {k: view[k] for k in ("callback_id", "private_metadata", "title", "submit")}
        client.views_update(view_id=view["id"], view={"type": "modal", **keep, "blocks": blocks})

    @app.view("ticket")
    def filed(ack, view, client):
        values = view["state"]["values"]
        title = values["title"]["t"]["value"]
        if title == "bad":
            ack(response_action="errors", errors={"title": "not that title"})
            return
        ack()
        urgency = values["urgency"]["u"]["selected_option"]["value"]
        more = values.get("details", {}).get("d", {}).get("value")
        text = f"filed: {title} ({urgency}; {more})"
        client.chat_postMessage(channel=view["private_metadata"], text=text)

    with bolt_over_socket_mode(app, bot.app_token):
        _cb, bob = sign_in(browser, srv.url, "bob")
        say(bob, "/ticket")
        bob.wait_for_selector("#modal[open] h2:has-text('New ticket')")
        bob.click("#modal button[type=submit]")
        bob.wait_for_selector(
            "#modal .modal-input[data-block=title] .modal-error:has-text('required')"
        )
        bob.fill("#modal .modal-input[data-block=title] input", "bad")
        bob.select_option("#modal .modal-input[data-block=urgency] select", "high")
        bob.click("#modal button[type=submit]")
        bob.wait_for_selector("#modal .modal-error:has-text('not that title')")
        bob.screenshot(path=str(shots / "modal.png"))
        bob.fill("#modal .modal-input[data-block=title] input", "printer on fire")
        bob.click("#modal .block-button:has-text('Add details')")  # the app adds an input
        bob.wait_for_selector("#modal .modal-input[data-block=details] textarea")
        typed = bob.input_value("#modal .modal-input[data-block=title] input")
        assert typed == "printer on fire"  # kept through the update
        bob.fill("#modal .modal-input[data-block=details] textarea", "smoke")
        bob.click("#modal button[type=submit]")
        bob.wait_for_selector("#modal", state="hidden")
        bob.wait_for_selector("#messages .msg:has-text('filed: printer on fire (high; smoke)')")
        assert bob.errors == []  # type: ignore[attr-defined]


def test_a_pushed_modal_covers_the_one_under_it_until_it_closes(browser, world):
    """The app pushes a modal from a button of the one shown: it covers it; Cancel goes
    back to the first with what was typed still there; the first's submission closes
    it, and a submission the app answers with ``clear`` closes both."""
    srv, _general, _alice, _bob = world
    bot = srv.user("stackbot", bot=True, app_token=True)
    admin.register_command(srv.settings, bot.user_id, "/stack")
    app = App(client=WebClient(token=bot.token, base_url=f"{srv.url}/api/"))
    heard: list[str] = []

    def modal(title: str, callback_id: str) -> dict:
        button = {
            "type": "button",
            "action_id": "more",
            "text": {"type": "plain_text", "text": "More"},
        }
        return {
            "type": "modal",
            "callback_id": callback_id,
            "title": {"type": "plain_text", "text": title},
            "submit": {"type": "plain_text", "text": "Save"},
            "blocks": [
                {
                    "type": "input",
                    "block_id": "note",
                    "label": {"type": "plain_text", "text": "Note"},
                    "element": {"type": "plain_text_input", "action_id": "n"},
                },
                {"type": "actions", "elements": [button]},
            ],
        }

    @app.command("/stack")
    def open_it(ack, body, client):
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=modal("First", "first"))

    @app.action("more")
    def more(ack, body, client):
        ack()
        client.views_push(trigger_id=body["trigger_id"], view=modal("Second", "second"))

    @app.view("first")
    def first(ack, view):
        heard.append(view["state"]["values"]["note"]["n"]["value"])
        ack()

    @app.view("second")
    def second(ack, view):
        heard.append(view["state"]["values"]["note"]["n"]["value"])
        ack(response_action="clear")

    note = "#modal .modal-input[data-block=note] input"
    with bolt_over_socket_mode(app, bot.app_token):
        _cb, bob = sign_in(browser, srv.url, "bob")
        say(bob, "/stack")
        bob.wait_for_selector("#modal[open] h2:has-text('First')")
        bob.fill(note, "kept")
        bob.click("#modal .block-button:has-text('More')")
        bob.wait_for_selector("#modal[open] h2:has-text('Second')")
        assert bob.input_value(note) == ""
        bob.click("#modal .modal-actions button:has-text('Cancel')")
        bob.wait_for_selector("#modal[open] h2:has-text('First')")
        assert bob.input_value(note) == "kept"
        bob.click("#modal button[type=submit]")
        bob.wait_for_selector("#modal", state="hidden")
        # again, and the pushed one's answer clears both
        say(bob, "/stack")
        bob.wait_for_selector("#modal[open] h2:has-text('First')")
        bob.click("#modal .block-button:has-text('More')")
        bob.wait_for_selector("#modal[open] h2:has-text('Second')")
        bob.fill(note, "all done")
        bob.click("#modal button[type=submit]")
        bob.wait_for_selector("#modal", state="hidden")
        assert heard == ["kept", "all done"]
        assert bob.errors == []  # type: ignore[attr-defined]


def test_an_apps_shortcuts_run_from_the_composer_and_from_a_message(browser, world, shots):
    """The app's global shortcut, from the composer's menu, opens its modal; its message
    shortcut, from a message's More, has the app reply in the channel about that
    message."""
    srv, general, alice_creds, _bob = world
    bot = srv.user("shortbot", bot=True, app_token=True)
    admin.register_shortcut(srv.settings, bot.user_id, "new_ticket", "New ticket")
    admin.register_shortcut(srv.settings, bot.user_id, "quote", "Quote it", kind="message")
    app = App(client=WebClient(token=bot.token, base_url=f"{srv.url}/api/"))

    @app.shortcut("new_ticket")
    def new_ticket(ack, shortcut, client):
        ack()
        client.views_open(trigger_id=shortcut["trigger_id"], view=TICKET_VIEW)

    @app.shortcut("quote")
    def quote(ack, shortcut, respond):
        ack()
        respond(response_type="in_channel", text=f"quoted: {shortcut['message']['text']}")

    with bolt_over_socket_mode(app, bot.app_token):
        _cb, bob = sign_in(browser, srv.url, "bob")
        srv.client(alice_creds.token).chat_postMessage(channel=general, text="worth keeping")
        bob.wait_for_selector("#messages .msg:has-text('worth keeping')")
        bob.click("#shortcuts")
        bob.click("#popup-menu button:has-text('New ticket')")
        bob.wait_for_selector("#modal[open] h2:has-text('New ticket')")
        bob.click("#modal .modal-actions button:has-text('Cancel')")
        bob.wait_for_selector("#modal", state="hidden")
        message = "#messages .msg:has-text('worth keeping')"
        bob.hover(message)
        bob.click(f"{message} .actions button:has-text('More')")
        bob.wait_for_selector("#popup-menu button:has-text('Quote it')")
        bob.screenshot(path=str(shots / "app-shortcuts.png"))
        bob.click("#popup-menu button:has-text('Quote it')")
        bob.wait_for_selector("#messages .msg:has-text('quoted: worth keeping')")
        assert bob.is_hidden("#popup-menu")
        assert bob.errors == []  # type: ignore[attr-defined]


def test_an_apps_buttons_show_and_pressing_one_reaches_the_app(browser, world, shots):
    """A bot's message with blocks shows its texts (as text) and buttons; bob presses one,
    the app (Bolt over Socket Mode) replaces the message, and both windows show it."""
    from slack_bolt import App
    from slack_sdk import WebClient

    srv, general, alice_creds, _bob = world
    bot = srv.user("releasebot", bot=True, app_token=True)
    srv.client(alice_creds.token).conversations_invite(channel=general, users=bot.user_id)
    app = App(client=WebClient(token=bot.token, base_url=f"{srv.url}/api/"))

    @app.action("approve")
    def approve(ack, body, respond):
        ack()
        respond(replace_original=True, text=f"Approved by {body['user']['name']}")

    with bolt_over_socket_mode(app, bot.app_token):
        blocks = [
            {"type": "header", "text": {"type": "plain_text", "text": "Release 42"}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "3 fixes, 1 feature. <b>Ship</b> it?"},
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "built by ci-7"}]},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "approve",
                        "text": {"type": "plain_text", "text": "Approve"},
                        "style": "primary",
                    }
                ],
            },
        ]
        _ca, alice = sign_in(browser, srv.url, "alice")
        _cb, bob = sign_in(browser, srv.url, "bob")
        say(alice, "@bob can you *approve* release 42? `make ship` is ready")
        srv.client(bot.token).chat_postMessage(
            channel=general,
            text="Release 42?",
            blocks=blocks,
            username="Release train",
            icon_emoji=":tada:",
        )
        button = "#messages .msg .block-button.primary:has-text('Approve')"
        bob.wait_for_selector(button)
        # the name and icon the bot's post shows, always marked as an app's
        bob.wait_for_selector("#messages .msg .who:has-text('🎉 Release train') .app-tag")
        bob.screenshot(path=str(shots / "app-buttons.png"))
        bob.wait_for_selector("#messages .msg .block-header:has-text('Release 42')")
        assert bob.eval_on_selector_all("#messages .blocks b", "e => e.length") == 0  # text
        bob.click(button)
        for page in (alice, bob):
            page.wait_for_selector("#messages .msg:has-text('Approved by bob')")
            assert page.eval_on_selector_all("#messages .block-button", "e => e.length") == 0
        assert alice.errors == [] and bob.errors == []  # type: ignore[attr-defined]


def test_an_apps_home_tab_shows_in_its_direct_message_and_its_button_reaches_the_app(
    browser, world, shots
):
    """bob opens the direct message with a bot and its Home: the Bolt app hears
    ``app_home_opened`` and publishes his tab, which shows in place of the messages; its
    button reaches the app, which publishes it again; Messages goes back."""
    srv, _general, alice_creds, bob_creds = world
    bot = srv.user("homebot", bot=True, app_token=True)
    app = App(client=WebClient(token=bot.token, base_url=f"{srv.url}/api/"))
    presses: list[str] = []

    def tab(text: str) -> dict:
        button = {
            "type": "button",
            "action_id": "count",
            "text": {"type": "plain_text", "text": "Count me"},
        }
        return {
            "type": "home",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "Your desk"}},
                {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                {"type": "actions", "elements": [button]},
            ],
        }

    @app.event("app_home_opened")
    def opened(event, client):
        client.views_publish(user_id=event["user"], view=tab("Welcome <b>back</b>"))

    @app.action("count")
    def count(ack, body, client):
        ack()
        presses.append(body["user"]["id"])
        client.views_publish(user_id=body["user"]["id"], view=tab(f"Counted {len(presses)}"))

    with bolt_over_socket_mode(app, bot.app_token):
        _cb, bob = sign_in(browser, srv.url, "bob")
        bob.click(f"#people li[data-user={bot.user_id}]")
        bob.wait_for_selector("#channel-title:has-text('@homebot')")
        bob.click("#home-tab")
        bob.wait_for_selector("#home .block-header:has-text('Your desk')")
        bob.wait_for_selector("#home:has-text('Welcome <b>back</b>')")  # as text
        assert bob.is_hidden("#messages") and bob.is_hidden("#composer")
        bob.screenshot(path=str(shots / "app-home.png"))
        bob.click("#home .block-button:has-text('Count me')")
        bob.wait_for_selector("#home:has-text('Counted 1')")
        assert presses == [bob_creds.user_id]
        bob.click("#home-tab:has-text('Messages')")
        bob.wait_for_selector("#composer textarea")
        assert bob.is_hidden("#home")
        # a person's direct message has no Home
        bob.click(f"#people li[data-user={alice_creds.user_id}]")
        bob.wait_for_selector("#channel-title:has-text('@alice')")
        assert bob.is_hidden("#home-tab")
        assert bob.errors == []  # type: ignore[attr-defined]


def test_an_apps_menu_shows_and_the_option_picked_reaches_the_app(browser, world):
    """A bot's message with a ``static_select``: bob picks an option, the app (Bolt over
    Socket Mode) hears it and replaces the message."""
    from tests.app.test_interactivity import MENUS

    srv, general, alice_creds, _bob = world
    bot = srv.user("menubot", bot=True, app_token=True)
    srv.client(alice_creds.token).conversations_invite(channel=general, users=bot.user_id)
    app = App(client=WebClient(token=bot.token, base_url=f"{srv.url}/api/"))

    @app.action("shipper")
    def shipper(ack, action, respond):
        ack()
        respond(replace_original=True, text=f"{action['selected_option']['text']['text']} ships it")

    with bolt_over_socket_mode(app, bot.app_token):
        _cb, bob = sign_in(browser, srv.url, "bob")
        srv.client(bot.token).chat_postMessage(channel=general, text="Who ships?", blocks=MENUS)
        menu = "#messages .msg .block-select[data-action-id=shipper]"
        bob.wait_for_selector(menu)
        assert bob.eval_on_selector(menu, "s => s.options[0].textContent") == "Pick someone"
        bob.select_option(menu, "ben")
        bob.wait_for_selector("#messages .msg:has-text('Ben ships it')")
        assert bob.errors == []  # type: ignore[attr-defined]


def test_setting_oneself_away_shows_to_others_and_lasts_until_set_active(browser, world):
    """bob sets himself away: alice's people list shows him away though he is connected;
    after a reload he is still away, and Set active shows him active again."""
    srv, _general, _alice, bob_creds = world
    _ca, alice = sign_in(browser, srv.url, "alice")
    _cb, bob = sign_in(browser, srv.url, "bob")
    bob_dot = f"#people li[data-user={bob_creds.user_id}] .dot"
    alice.wait_for_selector(f"{bob_dot}.active")
    bob.click("#away-toggle:has-text('Set away')")
    alice.wait_for_selector(f"{bob_dot}:not(.active)")
    bob.wait_for_selector(f"{bob_dot}:not(.active)")
    bob.reload()
    bob.wait_for_selector("body[data-connection=open]")
    bob.wait_for_selector("#away-toggle:has-text('Set active')")
    bob.wait_for_selector(f"{bob_dot}:not(.active)")
    assert alice.is_visible(f"{bob_dot}:not(.active)")
    bob.click("#away-toggle")
    alice.wait_for_selector(f"{bob_dot}.active")
    bob.wait_for_selector("#away-toggle:has-text('Set away')")
    assert alice.errors == [] and bob.errors == []  # type: ignore[attr-defined]


def test_search_finds_what_one_may_read_and_opens_it_where_it_was_said(browser, world, shots):
    """bob searches: a match older than the history first shown opens in its channel,
    marked, older pages loaded to reach it; a reply opens its thread; a private
    channel's message he is not in is not found; a file named for it is found too, and
    downloads."""
    srv, general, alice_creds, bob_creds = world
    alice_web = srv.client(alice_creds.token)
    first = alice_web.chat_postMessage(channel=general, text="the needle in the haystack")["ts"]
    for i in range(60):  # more than the first page of history
        alice_web.chat_postMessage(channel=general, text=f"hay {i}")
    alice_web.chat_postMessage(channel=general, text="another needle", thread_ts=first)
    secret = alice_web.conversations_create(name="secret", is_private=True)["channel"]["id"]
    alice_web.chat_postMessage(channel=secret, text="a secret needle")
    alice_web.files_upload_v2(channel=general, content=b"sharp", filename="needle-specs.txt")
    alice_web.files_upload_v2(channel=secret, content=b"hidden", filename="needle-secret.txt")
    bob_web = srv.client(bob_creds.token)
    wait_for(
        lambda: bob_web.search_messages(query="needle")["messages"]["total"] == 2,
        15,
        "both needles indexed",
    )
    _cb, bob = sign_in(browser, srv.url, "bob")
    bob.fill("#search-form input", "needle")
    bob.press("#search-form input", "Enter")
    bob.wait_for_selector("#search-title:has-text('2 found and 1 file')")
    assert "secret" not in bob.inner_text("#search-results")
    with bob.expect_download() as got:
        bob.click("#search-results .file-result:has-text('needle-specs.txt')")
    assert got.value.suggested_filename == "needle-specs.txt"
    assert Path(got.value.path()).read_bytes() == b"sharp"
    bob.screenshot(path=str(shots / "search.png"))
    bob.click("#search-results .result:has-text('the needle in the haystack')")
    bob.wait_for_selector("#messages .msg.linked:has-text('the needle in the haystack')")
    bob.click("#search-results .result:has-text('another needle')")
    bob.wait_for_selector("#thread-messages .msg.linked:has-text('another needle')")
    assert bob.errors == []  # type: ignore[attr-defined]


def test_notifications_paused_and_resumed_from_the_page(browser, world):
    """bob pauses his notifications for an hour: the server has him snoozed (no pushes),
    the page says until when, also after a reload; Resume now ends it."""
    srv, _general, _alice, bob_creds = world
    web = srv.client(bob_creds.token)
    _cb, bob = sign_in(browser, srv.url, "bob")
    bob.click("#snooze:has-text('Pause notifications')")
    bob.click("#popup-menu button:has-text('For 1 hour')")
    bob.wait_for_selector("#snooze:has-text('Paused until')")
    info = web.dnd_info()
    assert info["snooze_enabled"] and 3500 <= info["snooze_remaining"] <= 3600
    bob.reload()
    bob.wait_for_selector("#snooze:has-text('Paused until')")
    bob.click("#snooze")
    bob.click("#popup-menu button:has-text('Resume now')")
    bob.wait_for_selector("#snooze:has-text('Pause notifications')")
    assert web.dnd_info()["snooze_enabled"] is False
    assert bob.errors == []  # type: ignore[attr-defined]


def test_a_bookmark_added_shows_above_the_channel_for_everyone(browser, world):
    """alice bookmarks a link in #general: bob sees it above the messages, a link that
    opens elsewhere; alice removes it and it goes from both pages."""
    srv, _general, _alice, _bob = world
    _ca, alice = sign_in(browser, srv.url, "alice")
    _cb, bob = sign_in(browser, srv.url, "bob")
    alice.click("#bookmark-add")
    alice.fill("#ask input", "https://wiki.example/runbook")
    alice.click("#ask button[value=ok]")
    alice.wait_for_selector("#ask[open] #ask-label:has-text('Title')")
    assert alice.input_value("#ask input") == "wiki.example"  # a title offered
    alice.fill("#ask input", "Runbook")
    alice.click("#ask button[value=ok]")
    link = "#bookmarks a.bookmark:has-text('Runbook')"
    bob.wait_for_selector(link)
    assert bob.get_attribute(link, "href") == "https://wiki.example/runbook"
    assert bob.get_attribute(link, "rel") == "noopener noreferrer"
    alice.wait_for_selector(link)
    alice.click("#bookmarks .bookmark-remove[title='Remove Runbook']")
    bob.wait_for_selector(link, state="detached")
    assert alice.errors == [] and bob.errors == []  # type: ignore[attr-defined]


def test_a_pin_shows_in_every_window_of_the_channel(browser, world):
    """alice pins a message from its actions; bob's window marks it at once, and after a
    reload; unpinning clears it."""
    srv, _general, _alice, _bob = world
    _ca, alice = sign_in(browser, srv.url, "alice")
    _cb, bob = sign_in(browser, srv.url, "bob")
    say(alice, "pin this plan")
    item = "#messages .msg:not(.pending):has-text('pin this plan')"
    alice.wait_for_selector(item)
    alice.hover(item)
    alice.click(f"{item} .actions button:has-text('Pin')")
    bob.wait_for_selector(f"{item}.pinned .pinned-mark")
    bob.reload()
    bob.wait_for_selector(f"{item}.pinned .pinned-mark")
    alice.hover(item)
    alice.click(f"{item} .actions button:has-text('Unpin')")
    bob.wait_for_selector(f"{item}:not(.pinned)")
    assert alice.errors == [] and bob.errors == []  # type: ignore[attr-defined]


def test_a_status_shows_in_the_people_list_as_it_is_set(browser, world):
    srv, _general, alice_creds, _bob = world
    _cb, bob = sign_in(browser, srv.url, "bob")
    srv.client(alice_creds.token).users_profile_set(
        profile={"status_emoji": ":palm_tree:", "status_text": "<b>away</b> till Monday"}
    )
    bob.wait_for_selector(
        "#people li:has-text('alice') .status:has-text(':palm_tree: <b>away</b> till Monday')"
    )
    assert bob.eval_on_selector_all("#people b", "e => e.length") == 0  # text, not HTML
    assert bob.errors == []  # type: ignore[attr-defined]


def test_a_deactivated_person_is_signed_out_and_leaves_the_people_list(browser, world):
    """An operator deactivates bob (``admin.users.remove``): bob's page goes back to
    signing in, and his password no longer signs him in; alice's people list drops him.
    Reactivated, he signs in again and is listed again."""
    srv, _general, alice_creds, bob_creds = world
    operator = srv.user("operator", scopes="admin.users:write")
    _ca, alice = sign_in(browser, srv.url, "alice")
    cb, bob = sign_in(browser, srv.url, "bob")
    alice.wait_for_selector(f"#people li[data-user={bob_creds.user_id}]")
    srv.client(operator.token).admin_users_remove(
        team_id=alice_creds.team_id, user_id=bob_creds.user_id
    )
    bob.wait_for_selector("#signin:not([hidden])")
    alice.wait_for_selector(f"#people li[data-user={bob_creds.user_id}]", state="detached")
    bob.fill("input[name=username]", "bob")
    bob.fill("input[name=password]", PASSWORD)
    bob.click("button[type=submit]")
    bob.wait_for_selector("#signin-error:has-text('Wrong username or password.')")
    srv.client(operator.token).admin_users_assign(
        team_id=alice_creds.team_id, user_id=bob_creds.user_id
    )
    alice.wait_for_selector(f"#people li[data-user={bob_creds.user_id}]")
    cb.close()
    sign_in(browser, srv.url, "bob")
    assert alice.errors == []  # type: ignore[attr-defined]


def test_emoji_by_name_show_as_emoji_and_the_workspaces_own_as_images(browser, world):
    """``:tada:`` in a message is drawn 🎉; a custom emoji added while the page is open
    (``emoji_changed``) is drawn as its image, in the text and on a reaction; a name
    that is neither stays as typed."""
    srv, general, alice_creds, _bob = world
    operator = srv.user("emoji-operator", scopes="admin.teams:write")
    _ca, alice = sign_in(browser, srv.url, "alice")
    image = base64.b64encode(png(8, 8, (200, 0, 90))).decode()
    srv.client(operator.token).api_call(
        "admin.emoji.add", json={"name": "partyparrot", "image": image}
    )
    say(alice, "party :tada: :partyparrot: :not-an-emoji: 10:30:45")
    item = "#messages .msg:has-text('party')"
    alice.wait_for_selector(f"{item} .text img.emoji[alt=':partyparrot:']")
    assert alice.inner_text(f"{item} .text") == "party 🎉  :not-an-emoji: 10:30:45"
    ts = alice.get_attribute(item, "data-ts")
    srv.client(alice_creds.token).reactions_add(channel=general, timestamp=ts, name="partyparrot")
    alice.wait_for_selector(f"{item} .reactions button[data-reaction=partyparrot] img.emoji")
    width = alice.eval_on_selector(f"{item} .text img.emoji", "img => img.naturalWidth")
    assert width == 8  # the image loaded, from this server
    assert alice.errors == []  # type: ignore[attr-defined]


def test_remind_me_sets_a_reminder_that_slackbot_says_in_a_direct_message(browser, world):
    srv, _general, _alice, _bob = world
    _ca, alice = sign_in(browser, srv.url, "alice")
    say(alice, "/remind me to hydrate in 2 seconds")
    alice.wait_for_selector("#notice:has-text('I will remind you “hydrate”')")
    assert alice.input_value("#composer textarea") == ""  # nothing posted
    dm = "#dms li:has-text('@slackbot')"
    alice.wait_for_selector(f"{dm} .badge:has-text('1')", timeout=15000)
    alice.click(dm)
    alice.wait_for_selector("#messages .msg:has-text('Reminder: hydrate.') .app-tag")
    say(alice, "/remind me about nothing")
    alice.wait_for_selector("#notice:has-text('Try /remind me to stretch in 10 minutes')")
    assert alice.input_value("#composer textarea") == "/remind me about nothing"
    assert alice.errors == []  # type: ignore[attr-defined]


def test_a_status_a_topic_and_an_invitation_set_from_the_page(browser, world):
    """bob sets his status by clicking his name, and alice sees it; alice sets
    #general's topic, shown to both; she makes a channel and invites bob by name, and
    it shows in his sidebar."""
    srv, _general, _alice, _bob = world
    _ca, alice = sign_in(browser, srv.url, "alice")
    _cb, bob = sign_in(browser, srv.url, "bob")
    bob.click("#me")
    bob.fill("#ask input", "on call")
    bob.click("#ask button[value=ok]")
    alice.wait_for_selector("#people li:has-text('bob') .status:has-text('on call')")
    bob.wait_for_selector("#me:has-text('on call')")
    alice.click("#set-topic")
    alice.fill("#ask input", "release day")
    alice.click("#ask button[value=ok]")
    for page in (alice, bob):
        page.wait_for_selector("#channel-topic:has-text('release day')")
    bob.click("#set-topic")  # cancelled: nothing changes
    bob.click("#ask button[value=cancel]")
    alice.fill("#create-form input[name=name]", "ops")
    alice.click("#create-form button[type=submit]")
    alice.wait_for_selector("#channel-title:has-text('ops')")
    alice.click("#invite")
    alice.fill("#ask input", "@bob @nobody")
    alice.click("#ask button[value=ok]")
    alice.wait_for_selector("#notice:has-text('Nobody is called nobody')")
    alice.click("#invite")
    alice.fill("#ask input", "@bob")
    alice.click("#ask button[value=ok]")
    bob.wait_for_selector("#channels li:has-text('ops')")
    assert alice.errors == [] and bob.errors == []  # type: ignore[attr-defined]


def test_me_says_what_one_does(browser, world):
    srv, _general, _alice, _bob = world
    _ca, alice = sign_in(browser, srv.url, "alice")
    _cb, bob = sign_in(browser, srv.url, "bob")
    say(alice, "/me waves hello")
    bob.wait_for_selector("#messages .msg.me:has-text('waves hello')")
    assert alice.errors == [] and bob.errors == []  # type: ignore[attr-defined]


def test_slack_markup_shows_as_names_links_and_styles_and_at_names_are_sent_as_mentions(
    browser, world
):
    srv, general, alice_creds, bob_creds = world
    _ca, alice = sign_in(browser, srv.url, "alice")
    _cb, bob = sign_in(browser, srv.url, "bob")
    text = (
        f"hi <@{bob_creds.user_id}> in <#{general}|general> <!here>: *bold* _it_ ~gone~ "
        "`a_b` <https://example.com/x|the site> snake_case_name"
    )
    srv.client(alice_creds.token).chat_postMessage(channel=general, text=text)
    item = "#messages .msg:has-text('snake_case_name')"
    bob.wait_for_selector(item)

    def found(selector: str) -> list[str]:
        return bob.eval_on_selector_all(f"{item} {selector}", "els => els.map(e => e.innerText)")

    assert found(".mention") == ["@bob", "#general", "@here"]
    assert found(".mention.me") == ["@bob", "@here"]
    assert (found("strong"), found("em"), found("del"), found("code")) == (
        ["bold"],
        ["it"],
        ["gone"],
        ["a_b"],
    )
    assert found("a[href='https://example.com/x']") == ["the site"]
    assert bob.eval_on_selector(f"{item} .text", "e => e.innerText").endswith("snake_case_name")
    say(alice, "@bob look, and bob@example.com stays")
    bob.wait_for_selector("#messages .msg:has-text('look') .mention.me:has-text('@bob')")
    (last,) = srv.client(bob_creds.token).conversations_history(channel=general, limit=1)[
        "messages"
    ]
    assert last["text"] == f"<@{bob_creds.user_id}> look, and bob@example.com stays"
    assert alice.errors == [] and bob.errors == []  # type: ignore[attr-defined]


def test_a_link_shows_its_preview_with_the_image_through_the_server(browser, tmp_path, pages):
    """alice posts a link; both pages show the site, title, description and image, the
    image fetched through Parley (the page server is never asked by a browser), and the
    message is not marked edited."""
    with server_in_thread(tmp_path / "data", unfurl_private=True) as srv:
        alice = srv.user("alice", password=PASSWORD, rate_limit=TEST_RATE_LIMIT)
        bob = srv.user("bob", password=PASSWORD, rate_limit=TEST_RATE_LIMIT)
        admin.ensure_channel(
            srv.settings, alice.team_id, "general", alice.user_id, [alice.user_id, bob.user_id]
        )
        _ca, page_a = sign_in(browser, srv.url, "alice")
        _cb, page_b = sign_in(browser, srv.url, "bob")
        say(page_a, f"we wrote it up: {pages.base}/article")
        card = "#messages .msg .attachment.preview"
        for page in (page_a, page_b):
            page.wait_for_selector(f"{card} .attachment-by:has-text('Parley Blog')")
            page.wait_for_selector(f"{card} .attachment-title a:has-text('How we ship')")
            page.wait_for_selector(f"{card} .attachment-text:has-text('A post about shipping.')")
            # An arrow function, not a bare expression: Playwright evals a bare
            # expression again on every poll, which the client's CSP refuses.
            image = f"{card} img.attachment-image"
            page.wait_for_function(f"() => document.querySelector({image!r})?.naturalWidth === 8")
            href = page.get_attribute(f"{card} .attachment-title a", "href")
            assert href == f"{pages.base}/article"
            assert page.query_selector("#messages .msg .edited") is None
            assert pages.base.split("/")[2] not in page.hosts  # type: ignore[attr-defined]
            assert page.errors == []  # type: ignore[attr-defined]


def test_an_apps_unfurl_shows_its_blocks_under_the_message(browser, tmp_path, pages):
    """alice posts a link on an app's domain; the app unfurls it (``chat.unfurl``) with
    blocks; both pages show them on the message, its button inert, and the server
    fetched nothing of the link."""
    with server_in_thread(tmp_path / "data", unfurl_private=True) as srv:
        alice = srv.user("alice", password=PASSWORD, rate_limit=TEST_RATE_LIMIT)
        bob = srv.user("bob", password=PASSWORD, rate_limit=TEST_RATE_LIMIT)
        bot = srv.user("tickets", bot=True)
        admin.set_unfurl_domains(srv.settings, bot.user_id, ["localhost"])
        srv.reload_unfurls()
        general = admin.ensure_channel(
            srv.settings, alice.team_id, "general", alice.user_id, [alice.user_id, bob.user_id]
        ).id
        _ca, page_a = sign_in(browser, srv.url, "alice")
        _cb, page_b = sign_in(browser, srv.url, "bob")
        link = f"http://localhost:{pages.server_port}/ticket-42"
        say(page_a, f"about {link}")
        web = srv.client(alice.token)
        wait_for(lambda: web.conversations_history(channel=general)["messages"], 10, "the post")
        ts = web.conversations_history(channel=general)["messages"][0]["ts"]
        section = {"type": "section", "text": {"type": "mrkdwn", "text": "Ticket 42: *open*"}}
        button = {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "close",
                    "text": {"type": "plain_text", "text": "Close"},
                }
            ],
        }
        srv.client(bot.token).chat_unfurl(
            channel=general, ts=ts, unfurls={link: {"blocks": [section, button]}}
        )
        card = f"#messages .msg .attachment.preview[data-url='{link}']"
        for page in (page_a, page_b):
            page.wait_for_selector(f"{card} .blocks:has-text('Ticket 42: open')")
            assert page.is_disabled(f"{card} button.block-button")
            assert page.query_selector("#messages .msg .edited") is None
            assert page.errors == []  # type: ignore[attr-defined]
        assert pages.hits["/ticket-42"] == 0


def test_a_photo_set_shows_beside_ones_messages_for_everyone(browser, world):
    """alice picks a photo: bob's page draws it beside her messages and in the people
    list (from this server, whatever host its URL names); Remove photo takes it away."""
    srv, _general, alice_creds, _bob = world
    _ca, alice = sign_in(browser, srv.url, "alice")
    _cb, bob = sign_in(browser, srv.url, "bob")
    say(alice, "a face to the name")
    face = "#messages .msg:has-text('a face to the name') img.avatar"
    assert alice.locator("#photo-remove").is_hidden()
    alice.set_input_files(
        "#photo-file",
        {"name": "me.png", "mimeType": "image/png", "buffer": png(40, 40, (220, 90, 30))},
    )
    for page in (alice, bob):
        page.wait_for_selector(face)
        drawn = "() => document.querySelector('#messages .msg img.avatar')?.naturalWidth === 40"
        page.wait_for_function(drawn)
    bob.wait_for_selector(f"#people li[data-user={alice_creds.user_id}] img.avatar")
    alice.wait_for_selector("#photo-remove:not([hidden])")
    alice.click("#photo-remove")
    bob.wait_for_selector(face, state="detached")
    assert bob.locator(f"#people li[data-user={alice_creds.user_id}] img.avatar").count() == 0
    assert alice.errors == [] and bob.errors == []  # type: ignore[attr-defined]


#: Records each desktop notification the page shows, by the browser's own Notification.
RECORD_NOTIFICATIONS = """
window.__notified = [];
const Shown = window.Notification;
window.Notification = class extends Shown {
  constructor(title, options) {
    super(title, options);
    window.__notified.push({ title, body: options && options.body });
  }
};
"""


def test_a_direct_message_or_a_mention_notifies_and_counts_in_the_title(browser, world):
    """bob lets the page notify: alice's direct message and her mention of him in another
    channel each show a desktop notification and count in the tab's title; a message
    that is not for him does neither, nor one while his notifications are paused."""
    srv, general, alice_creds, bob_creds = world
    context = browser.new_context(viewport={"width": 1100, "height": 700})
    context.grant_permissions(["notifications"], origin=srv.url)
    context.add_init_script(RECORD_NOTIFICATIONS)
    _cb, bob = sign_in(browser, srv.url, "bob", context=context)
    assert bob.locator("#notify-enable").is_hidden()  # granted already: nothing to ask
    alice = srv.client(alice_creds.token)
    room = alice.conversations_create(name="planning")["channel"]["id"]
    alice.conversations_invite(channel=room, users=bob_creds.user_id)
    bob.wait_for_selector(f"#channels li[data-channel={room}]")
    bob.click(f"#channels li[data-channel={general}]")
    alice.chat_postMessage(channel=room, text="just planning")  # not for bob
    alice.chat_postMessage(channel=bob_creds.user_id, text="lunch?")
    alice.chat_postMessage(channel=room, text=f"<@{bob_creds.user_id}> can you look")
    bob.wait_for_function("() => window.__notified.length >= 2")
    notified = bob.evaluate("window.__notified")
    assert sorted(notified, key=lambda n: n["title"]) == [  # a new DM is told once read
        {"title": "# planning", "body": "alice: @bob can you look"},
        {"title": "@alice", "body": "alice: lunch?"},
    ]
    bob.wait_for_function("() => document.title.startsWith('(2) ')")
    srv.client(bob_creds.token).dnd_setSnooze(num_minutes=10)
    bob.reload()
    bob.wait_for_selector("body[data-connection=open]")
    alice.chat_postMessage(channel=bob_creds.user_id, text="still there?")
    bob.wait_for_selector("#dms li:has-text('@alice') .badge")
    assert bob.evaluate("window.__notified") == []  # paused
    assert bob.errors == []  # type: ignore[attr-defined]


def test_the_up_arrow_in_an_empty_composer_edits_ones_last_message(browser, world):
    """alice writes twice, bob once after her; ↑ in her empty composer opens her last
    message for editing (not bob's), and Enter saves it for both."""
    srv, _general, _alice, _bob = world
    _ca, alice = sign_in(browser, srv.url, "alice")
    _cb, bob = sign_in(browser, srv.url, "bob")
    say(alice, "first of mine")
    say(alice, "second of mine")
    alice.wait_for_selector("#messages .msg:not(.pending):has-text('second of mine')")
    say(bob, "bob's, last")
    alice.wait_for_selector('#messages .msg:has-text("bob\'s, last")')
    alice.press("#composer textarea", "ArrowUp")
    assert alice.input_value("#messages textarea.edit") == "second of mine"
    alice.fill("#messages textarea.edit", "second of mine, fixed")
    alice.press("#messages textarea.edit", "Enter")
    bob.wait_for_selector("#messages .msg:has-text('second of mine, fixed') .edited")
    alice.fill("#composer textarea", "not empty")
    alice.press("#composer textarea", "ArrowUp")  # a draft: the caret moves, nothing opens
    assert alice.locator("#messages textarea.edit").count() == 0
    assert alice.errors == [] and bob.errors == []  # type: ignore[attr-defined]


def test_a_name_on_a_message_opens_the_persons_card(browser, world):
    """bob clicks alice's name on her message: her card shows her title and status, and
    its Message button opens their direct message."""
    srv, _general, alice_creds, _bob = world
    srv.client(alice_creds.token).users_profile_set(
        profile={"title": "Release manager", "status_text": "shipping", "status_emoji": ":rocket:"}
    )
    _ca, alice = sign_in(browser, srv.url, "alice")
    _cb, bob = sign_in(browser, srv.url, "bob")
    say(alice, "a card for me")
    bob.click("#messages .msg:has-text('a card for me') .who")
    card = "#profile-card:not([hidden])"
    bob.wait_for_selector(f"{card} .profile-name:has-text('alice')")
    bob.wait_for_selector(f"{card} .profile-title:has-text('Release manager')")
    bob.wait_for_selector(f"{card} .profile-status:has-text('🚀 shipping')")
    bob.click(f"{card} button:has-text('Message')")
    bob.wait_for_selector("#channel-title:has-text('@alice')")
    assert bob.is_hidden("#profile-card")
    assert alice.errors == [] and bob.errors == []  # type: ignore[attr-defined]


def test_a_message_marked_unread_counts_from_there_on_every_device(browser, world):
    """bob reads three of alice's messages, then marks the second unread: the channel
    counts two unread once he leaves it, and on his other window at once; coming back
    reads it."""
    srv, general, alice_creds, bob_creds = world
    alice = srv.client(alice_creds.token)
    for text in ("one", "two", "three"):
        alice.chat_postMessage(channel=general, text=f"message {text}")
    context, bob = sign_in(browser, srv.url, "bob")
    _, bob_too = sign_in(browser, srv.url, "bob", context=context)
    for page in (bob, bob_too):
        page.click(f"#channels li[data-channel={general}]")
        page.wait_for_selector("#messages .msg:has-text('message three')")
    room = alice.conversations_create(name="elsewhere")["channel"]["id"]
    alice.conversations_invite(channel=room, users=bob_creds.user_id)
    bob_too.wait_for_selector(f"#channels li[data-channel={room}]")
    bob_too.click(f"#channels li[data-channel={room}]")  # his other window looks away
    item = "#messages .msg:has-text('message two')"
    bob.hover(item)
    bob.click(f"{item} .actions button[title='Mark unread from here']")
    badge = f"#channels li[data-channel={general}] .count:has-text('2')"
    bob_too.wait_for_selector(badge)
    bob.wait_for_selector(f"#channels li[data-channel={room}]")
    bob.click(f"#channels li[data-channel={room}]")
    bob.wait_for_selector(badge)  # kept unread while it was open
    bob.click(f"#channels li[data-channel={general}]")
    bob_too.wait_for_selector(badge, state="detached")  # read again, on both
    assert bob.errors == [] and bob_too.errors == []  # type: ignore[attr-defined]


def test_ones_own_card_edits_ones_profile(browser, world):
    """alice opens her own card from her message and edits her profile: her title and
    display name change on bob's page, and a field she empties is cleared."""
    srv, _general, alice_creds, _bob = world
    srv.client(alice_creds.token).users_profile_set(profile={"phone": "555-0100"})
    _ca, alice = sign_in(browser, srv.url, "alice")
    _cb, bob = sign_in(browser, srv.url, "bob")
    say(alice, "about me")
    alice.click("#messages .msg:has-text('about me') .who")
    alice.click("#profile-card button:has-text('Edit profile')")
    assert alice.input_value("#profile-form input[name=phone]") == "555-0100"
    alice.fill("#profile-form input[name=display_name]", "Al")
    alice.fill("#profile-form input[name=title]", "Release manager")
    alice.fill("#profile-form input[name=phone]", "")
    alice.click("#profile-form button[value=ok]")
    bob.wait_for_selector("#messages .msg:has-text('about me') .who:has-text('Al')")
    bob.click("#messages .msg:has-text('about me') .who")
    bob.wait_for_selector("#profile-card .profile-title:has-text('Release manager')")
    profile = srv.client(alice_creds.token).users_profile_get()["profile"]
    assert (profile["display_name"], profile.get("phone")) == ("Al", None)
    assert alice.errors == [] and bob.errors == []  # type: ignore[attr-defined]


def test_a_message_saved_for_later_is_listed_and_shown_on_every_device(browser, world):
    """alice saves bob's message: her other window shows it saved too (star_added), bob's
    page does not; her Saved list opens it; unsaving takes it off everywhere."""
    srv, _general, _alice, _bob = world
    context, alice = sign_in(browser, srv.url, "alice")
    _, alice_again = sign_in(browser, srv.url, "alice", context=context)
    _cb, bob = sign_in(browser, srv.url, "bob")
    say(bob, "remember the release on friday")
    item = "#messages .msg:has-text('remember the release on friday')"
    alice.wait_for_selector(item)
    alice.hover(item)
    alice.click(f"{item} .actions button[title='Save for later']")
    alice.wait_for_selector(f"{item} .saved-mark")
    alice_again.wait_for_selector(f"{item} .saved-mark")  # her other window, told
    assert bob.locator(f"{item} .saved-mark").count() == 0  # hers alone
    alice.click("#saved")
    alice.wait_for_selector("#search-title:has-text('Saved for later (1)')")
    alice.click("#search-results .result:has-text('remember the release on friday')")
    alice.wait_for_selector(f"{item}.linked")
    alice_again.hover(item)
    alice_again.click(f"{item} .actions button[title='Remove from saved items']")
    alice.wait_for_selector(f"{item} .actions button[title='Save for later']", state="attached")
    alice.wait_for_selector("#search-title:has-text('Nothing saved yet')")  # the list, redone
    assert alice.locator(f"{item} .saved-mark").count() == 0
    assert alice.errors == [] and alice_again.errors == [] and bob.errors == []  # type: ignore[attr-defined]


def test_a_reply_sent_to_the_channel_too_a_copied_link_and_a_message_sent_later(browser, world):
    """A thread reply with "Also send to the channel" shows in the channel for bob; Link
    puts the message's permalink on the clipboard; ⏰ schedules the composer's text an
    hour ahead, Scheduled lists it and Cancel takes it back."""
    srv, general, alice_creds, _bob = world
    context, alice = sign_in(browser, srv.url, "alice")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=srv.url)
    _cb, bob = sign_in(browser, srv.url, "bob")
    say(alice, "the plan for friday")
    root = "#messages .msg:has-text('the plan for friday')"
    alice.hover(root)
    alice.click(f"{root} .actions button[title='Reply in thread']")
    alice.check("#broadcast")
    say(alice, "agreed, for everyone to see", "#thread-composer textarea")
    bob.wait_for_selector("#messages .msg:has-text('agreed, for everyone to see')")
    assert not alice.is_checked("#broadcast")  # one reply at a time
    alice.hover(root)
    alice.click(f"{root} .actions button[title='Copy link to message']")
    alice.wait_for_selector("#notice:has-text('Link copied.')")
    copied = alice.evaluate("() => navigator.clipboard.readText()")
    assert f"/archives/{general}/p" in copied
    alice.fill("#composer textarea", "the minutes, later")
    alice.click("#send-later")
    alice.click("#schedule-form button[value=ok]")  # an hour from now, as offered
    alice.wait_for_selector("#notice:has-text('Scheduled for')")
    assert alice.input_value("#composer textarea") == ""
    waiting = srv.client(alice_creds.token).chat_scheduledMessages_list()["scheduled_messages"]
    assert [s["text"] for s in waiting] == ["the minutes, later"]
    assert abs(waiting[0]["post_at"] - (time.time() + 3600)) < 120
    alice.click("#scheduled")
    alice.wait_for_selector("#search-results .scheduled:has-text('the minutes, later')")
    alice.click("#search-results .scheduled button:has-text('Cancel')")
    alice.wait_for_selector("#search-title:has-text('Nothing scheduled')")
    assert srv.client(alice_creds.token).chat_scheduledMessages_list()["scheduled_messages"] == []
    assert alice.errors == [] and bob.errors == []  # type: ignore[attr-defined]


def test_ctrl_k_jumps_to_a_conversation_or_a_person(browser, world):
    """Ctrl+K, a few letters, Enter: a person's direct message opens (made if need be);
    ↓ picks the next match; Escape closes it."""
    srv, _general, _alice, _bob = world
    srv.user("bobby", password=PASSWORD)
    _ca, alice = sign_in(browser, srv.url, "alice")
    alice.keyboard.press("Control+k")
    alice.fill("#switcher input[name=q]", "@bob")
    alice.wait_for_selector("#switcher-results li[aria-selected=true]:has-text('@bob')")
    alice.keyboard.press("ArrowDown")  # @bobby
    alice.wait_for_selector("#switcher-results li[aria-selected=true]:has-text('@bobby')")
    alice.keyboard.press("Enter")
    alice.wait_for_selector("#channel-title:has-text('@bobby')")
    alice.keyboard.press("Control+k")
    alice.fill("#switcher input[name=q]", "gen")
    alice.keyboard.press("Enter")
    alice.wait_for_selector("#channel-title:has-text('# general')")
    alice.keyboard.press("Control+k")
    alice.keyboard.press("Escape")
    assert not alice.is_visible("#switcher")
    assert alice.errors == []  # type: ignore[attr-defined]


def test_an_apps_streamed_reply_grows_with_its_tasks_then_settles(browser, world, shots):
    """A bot says it is thinking in alice's thread (``assistant.threads.setStatus``),
    then streams its answer there (slack_sdk's ``chat_stream``): the page shows the
    status until the answer comes, then the markdown as it grows, its plan and tasks
    changing state while it says it is writing, then the final text with the blocks
    under it, and nothing more."""
    from slack_sdk.models.messages.chunk import PlanUpdateChunk, TaskUpdateChunk

    srv, general, alice_creds, _bob = world
    bot = srv.user("answerbot", bot=True)
    alice_web = srv.client(alice_creds.token)
    alice_web.conversations_invite(channel=general, users=bot.user_id)
    _ca, page = sign_in(browser, srv.url, "alice")
    asked = alice_web.chat_postMessage(channel=general, text="why is CI red?")["ts"]
    question = "#messages .msg:has-text('why is CI red?')"
    page.hover(question)
    page.click(f"{question} .actions button:has-text('Reply')")
    bot_web = srv.client(bot.token)
    bot_web.assistant_threads_setStatus(channel_id=general, thread_ts=asked, status="is thinking…")
    page.wait_for_selector("#thread-messages .thread-status:has-text('answerbot is thinking…')")
    page.wait_for_selector("#typing:has-text('answerbot is thinking…')")
    stream = bot_web.chat_stream(
        channel=general,
        thread_ts=asked,
        recipient_team_id=alice_creds.team_id,
        recipient_user_id=alice_creds.user_id,
        buffer_size=1,
    )
    stream.append(markdown_text="## Found it\nThe **browser** test")
    stream.append(chunks=[PlanUpdateChunk(title="Checking CI")])
    stream.append(chunks=[TaskUpdateChunk(id="log", title="Read the log", status="in_progress")])
    reply = "#thread-messages .msg:has(.stream)"  # in the thread, where it grows
    page.wait_for_selector(f"{reply} .stream .plan:has-text('Checking CI')")
    page.wait_for_selector(f"{reply} .task.in_progress:has-text('Read the log')")
    page.wait_for_selector(f"{reply} .streaming")
    assert page.inner_text(f"{reply} .text strong") == "Found it"
    assert page.query_selector("#thread-messages .thread-status") is None  # it answered
    assert "thinking" not in page.inner_text("#typing")
    stream.append(
        chunks=[TaskUpdateChunk(id="log", title="Read the log", status="complete", details="a CSP")]
    )
    page.wait_for_selector(f"{reply} .task.complete .details:has-text('a CSP')")
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "Fixed in the next run"}}
    stream.stop(markdown_text=" was *flaky*.", blocks=[section])
    page.wait_for_selector(f"{reply} .streaming", state="detached")
    page.wait_for_selector(f"{reply} :text('Fixed in the next run')")
    text = page.inner_text(f"{reply} .text")
    assert "The browser test was flaky." in text and "(edited)" not in text
    assert page.inner_text(f"{reply} .text em") == "flaky"
    page.screenshot(path=str(shots / "streamed-reply.png"))
    # and an answer posted whole as markdown (markdown_text: a markdown block)
    bot_web.chat_postMessage(channel=general, markdown_text="**Summary**\n- one\n- two")
    page.wait_for_selector("#messages .msg .block-markdown strong:has-text('Summary')")
    assert "• one" in page.inner_text("#messages .msg .block-markdown")
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_person_an_answer_is_for_stops_it_from_the_page(browser, world):
    """alice's Stop on a streamed answer for her: the page says she stopped it, bob's
    page has no Stop (it is not for him) and shows it stopped too, and the app's next
    append is refused with ``stopped_by_user``."""
    from slack_sdk.errors import SlackApiError

    srv, general, alice_creds, _bob = world
    bot = srv.user("longbot", bot=True)
    alice_web = srv.client(alice_creds.token)
    alice_web.conversations_invite(channel=general, users=bot.user_id)
    _ca, alice = sign_in(browser, srv.url, "alice")
    _cb, bob = sign_in(browser, srv.url, "bob")
    asked = alice_web.chat_postMessage(channel=general, text="write me an essay")["ts"]
    bot_web = srv.client(bot.token)
    ts = bot_web.chat_startStream(
        channel=general,
        thread_ts=asked,
        markdown_text="Once upon a time",
        recipient_team_id=alice_creds.team_id,
        recipient_user_id=alice_creds.user_id,
    )["ts"]
    for page in (alice, bob):
        question = "#messages .msg:has-text('write me an essay')"
        page.hover(question)
        page.click(f"{question} .actions button:has-text('Reply')")
        page.wait_for_selector("#thread-messages .msg .streaming:has-text('writing')")
    assert bob.query_selector("#thread-messages .stream-stop") is None
    alice.click("#thread-messages .stream-stop")
    for page in (alice, bob):
        page.wait_for_selector("#thread-messages .streaming:has-text('stopped by alice')")
    with pytest.raises(SlackApiError) as refused:
        bot_web.chat_appendStream(channel=general, ts=ts, markdown_text=", there was")
    assert refused.value.response["error"] == "stopped_by_user"
    assert alice.errors == [] and bob.errors == []  # type: ignore[attr-defined]


def test_an_apps_thread_title_and_suggested_prompts_show_and_a_prompt_sends(browser, world):
    """In alice's direct message with an app, the app titles her thread and suggests
    prompts (``assistant.threads.setTitle``, ``setSuggestedPrompts``): the thread shows
    the title and the prompts, and pressing one posts its message into the thread."""
    srv, _general, alice_creds, _bob = world
    bot = srv.user("helperbot", bot=True)
    alice_web = srv.client(alice_creds.token)
    dm = alice_web.conversations_open(users=bot.user_id)["channel"]["id"]
    root = alice_web.chat_postMessage(channel=dm, text="plan my week")["ts"]
    bot_web = srv.client(bot.token)
    bot_web.chat_postMessage(channel=dm, thread_ts=root, text="Happy to.")
    bot_web.assistant_threads_setTitle(channel_id=dm, thread_ts=root, title="Weekly plan")
    bot_web.assistant_threads_setSuggestedPrompts(
        channel_id=dm,
        thread_ts=root,
        title="Try:",
        prompts=[{"title": "Start Monday", "message": "Start with Monday"}],
    )
    _ca, page = sign_in(browser, srv.url, "alice")
    page.click("#dms li:has-text('helperbot')")
    page.wait_for_selector("#messages .msg .assistant-title:has-text('Weekly plan')")
    page.click("#messages .msg .replies")
    page.wait_for_selector("#thread-messages .suggested-prompts .prompts-title:has-text('Try:')")
    page.click("#thread-messages .suggested-prompts button:has-text('Start Monday')")
    page.wait_for_selector("#thread-messages .msg:has-text('Start with Monday')")
    replies = alice_web.conversations_replies(channel=dm, ts=root)["messages"]
    assert replies[-1]["text"] == "Start with Monday" and replies[-1]["user"] == alice_creds.user_id
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_new_chat_with_an_assistant_app_from_the_page(browser, world, shots):
    """The whole of an AI app's chat in the page, the app built on Bolt's ``Assistant``
    over Socket Mode: alice presses New chat in her direct message with it, the thread
    opens with its greeting and a suggested prompt; she presses the prompt, the app says
    it is thinking, titles the chat, and streams its answer (``say_stream``) there."""
    from slack_bolt import Assistant

    srv, general, alice_creds, _bob = world
    bot = srv.user("askbot", bot=True, app_token=True)
    app = App(client=WebClient(token=bot.token, base_url=f"{srv.url}/api/"))
    assistant = Assistant()

    @assistant.thread_started
    def greet(say, set_suggested_prompts):
        say("Hi! Ask me anything.")
        set_suggested_prompts(prompts=[{"title": "Explain", "message": "Explain retention"}])

    @assistant.user_message
    def answer(payload, set_title, set_status, say_stream):
        set_title(payload["text"])
        set_status("is thinking…")
        stream = say_stream(buffer_size=1)
        stream.append(markdown_text="Retention **removes** old messages.")
        stream.stop()

    app.assistant(assistant)
    alice_web = srv.client(alice_creds.token)
    alice_web.conversations_open(users=bot.user_id)
    _ca, page = sign_in(browser, srv.url, "alice")
    with bolt_over_socket_mode(app, bot.app_token):
        page.click("#channels li:has-text('general')")
        page.click("#dms li:has-text('askbot')")
        page.click("#new-chat")
        page.wait_for_selector("#thread-messages .msg:has-text('Hi! Ask me anything.')")
        page.click("#thread-messages .suggested-prompts button:has-text('Explain')")
        answer_text = "#thread-messages .msg .text strong:has-text('removes')"
        page.wait_for_selector(answer_text, timeout=15_000)
        page.wait_for_selector("#thread-messages .assistant-title:has-text('Explain retention')")
        page.wait_for_selector("#thread-messages .msg .streaming", state="detached")
    page.screenshot(path=str(shots / "assistant-chat.png"))
    assert page.errors == []  # type: ignore[attr-defined]


def test_marking_unread_right_after_opening_a_channel_holds(browser, world):
    """bob opens #general and at once marks alice's second message unread, before the
    read mark his opening it scheduled (a second later) has gone: that mark does not
    undo his, and the channel counts two unread when he looks away."""
    srv, general, alice_creds, bob_creds = world
    alice = srv.client(alice_creds.token)
    room = alice.conversations_create(name="aside")["channel"]["id"]
    alice.conversations_invite(channel=room, users=bob_creds.user_id)
    for text in ("one", "two", "three"):
        alice.chat_postMessage(channel=general, text=f"message {text}")
    _cb, bob = sign_in(browser, srv.url, "bob")
    bob.click(f"#channels li[data-channel={general}]")
    item = "#messages .msg:has-text('message two')"
    bob.hover(item)
    bob.click(f"{item} .actions button[title='Mark unread from here']")
    bob.wait_for_timeout(1500)  # past the read mark opening it scheduled
    bob.click(f"#channels li[data-channel={room}]")
    bob.wait_for_selector(f"#channels li[data-channel={general}] .count:has-text('2')")
    assert bob.errors == []  # type: ignore[attr-defined]
