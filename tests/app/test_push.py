"""Mobile push end to end: a Parley server pushes through the local APNs and FCM servers
(real TLS, HTTP/2, JWTs and OAuth2) to members who are offline; Do Not Disturb holds
pushes and releases one summary per channel; a dead token is forgotten; failures retry;
nothing goes to a user who lost access. The same checks run on MariaDB's directory in
``tests/integration/test_mysql_search.py``."""

from __future__ import annotations

import time

import pytest
from websockets.sync.client import connect

from parley.notify.fakes import LocalProviders, running
from tests.app.test_dnd import clock, error_of
from tests.app.test_metrics import scrape, value
from tests.app.test_push_devices import FCM
from tests.helpers import RunningServer, server_in_thread
from tests.push_support import pushes, wait_pushes
from tests.subscriber import wait_for

#: The push worker's preferences snapshot is this old at most (the default is 5 s).
PREFS_TTL = 0.2
#: These tests script provider failures to see retries; the breaker (its own tests in
#: ``test_push_faults.py``) would open on them, so here it needs many more calls.
PUSH_SETTINGS = {
    "push_prefs_ttl": PREFS_TTL,
    "breaker_window": 10_000,
    "breaker_min_calls": 10_000,
}


@pytest.fixture(scope="module")
def push(tmp_path_factory):
    with running(tmp_path_factory.mktemp("providers")) as providers:
        data = tmp_path_factory.mktemp("data")
        with server_in_thread(data, **PUSH_SETTINGS, **providers.settings) as srv:
            yield srv, providers


def _apns(n: int) -> str:
    return f"{n:02x}" * 32


def check_push(srv: RunningServer, providers: LocalProviders, tag: str) -> None:
    apns, fcm = providers.apns, providers.fcm
    people = {n: srv.user(f"pushed-{n}-{tag}") for n in ("alice", "bob", "carol", "dave", "eve")}
    web = {n: srv.client(u.token) for n, u in people.items()}
    ids = {n: u.user_id for n, u in people.items()}
    bob_apns, bob_fcm = _apns(1) + tag.encode().hex(), f"{FCM}-{tag}-bob"
    devices = {
        "bob": [("apns", bob_apns), ("fcm", bob_fcm)],
        "carol": [("apns", _apns(2) + tag.encode().hex())],
        "dave": [("fcm", f"{FCM}-{tag}-dave")],
        "eve": [("apns", _apns(3) + tag.encode().hex())],
    }
    for name, registered in devices.items():
        for platform, token in registered:
            web[name].api_call("push.register", json={"platform": platform, "device_token": token})
    alice = web["alice"]
    room = alice.conversations_create(name=f"push-room-{tag}")["channel"]["id"]
    alice.conversations_invite(channel=room, users=",".join(ids[n] for n in devices))

    # carol is online: a WebSocket open on the gateway
    with connect(web["carol"].rtm_connect()["url"]) as carol_ws:
        assert '"hello"' in carol_ws.recv(timeout=10)
        # an offline member mentioned: every device of theirs, within a second
        sent = time.monotonic()
        posted = alice.chat_postMessage(
            channel=room, text=f"<@{ids['bob']}> lunch? <@{ids['carol']}>"
        )
        [to_apns] = wait_pushes(apns, bob_apns, 1, timeout=1.0)
        [to_fcm] = wait_pushes(fcm, bob_fcm, 1, timeout=1.0)
        arrival = max(t for _, _, t in apns.received + fcm.received)
        assert arrival - sent < 1.0
        # each call to a provider is timed: the pipeline's push stage (observed once its
        # answer is read, which may be just after the provider has recorded the push)
        wait_for(
            lambda: value(scrape(srv.url), "parley_stage_seconds_count", stage="push") >= 2,
            5,
            "both provider calls timed",
        )
        assert to_apns["aps"]["alert"] == {
            "title": f"#push-room-{tag}",
            "body": f"pushed-alice-{tag}: @{ids['bob']} lunch? @{ids['carol']}",
        }
        assert to_apns["channel"] == room and to_apns["ts"] == posted["ts"]
        assert to_fcm["data"]["ts"] == posted["ts"]
        # a message that mentions nobody pushes nobody; carol (online) got nothing
        alice.chat_postMessage(channel=room, text="no mentions here")
        alice.chat_postMessage(channel=room, text=f"<@{ids['bob']}> marker")
        wait_pushes(apns, bob_apns, 2)
        assert pushes(apns, devices["carol"][0][1]) == []
        # @channel: every offline member but the sender
        alice.chat_postMessage(channel=room, text="<!channel> standup")
        wait_pushes(apns, devices["eve"][0][1], 1)
        wait_pushes(fcm, devices["dave"][0][1], 1)
        assert pushes(apns, devices["carol"][0][1]) == []
        alice.chat_postMessage(channel=room, text="<!here> only the active ones")

    # a direct message pushes without a mention, titled with its sender
    dm = alice.conversations_open(users=ids["bob"])["channel"]["id"]
    count = len(pushes(fcm, bob_fcm))
    alice.chat_postMessage(channel=dm, text="just between us")
    [direct] = wait_pushes(fcm, bob_fcm, count + 1)[count:]
    assert direct["notification"] == {"title": f"pushed-alice-{tag}", "body": "just between us"}
    assert direct["data"]["channel"] == dm

    # an app's streamed answer in its direct message: pushed once, whole, when it stops
    helper = srv.client(srv.user(f"pushed-helper-{tag}", bot=True).token)
    helper_dm = helper.conversations_open(users=ids["bob"])["channel"]["id"]
    asked = web["bob"].chat_postMessage(channel=helper_dm, text="summarize")["ts"]
    count = len(pushes(fcm, bob_fcm))
    stream = helper.chat_stream(channel=helper_dm, thread_ts=asked, buffer_size=1)
    stream.append(markdown_text="Three")
    stream.append(markdown_text=" things")
    time.sleep(0.3)  # a push would have come by now
    assert len(pushes(fcm, bob_fcm)) == count  # nothing while it is written
    stream.stop(markdown_text=" happened.")
    [answered] = wait_pushes(fcm, bob_fcm, count + 1)[count:]
    assert answered["notification"]["body"] == "Three things happened."
    assert answered["data"]["channel"] == helper_dm
    helper.chat_update(channel=helper_dm, ts=stream.ts, text="Three things happened, twice.")
    time.sleep(0.3)
    assert len(pushes(fcm, bob_fcm)) == count + 1  # an edit after it is not pushed again

    # a user group mentioned: its offline members, as if each were named
    oncall = alice.usergroups_create(name=f"push-oncall-{tag}")["usergroup"]
    alice.usergroups_users_update(usergroup=oncall["id"], users=[ids["bob"], ids["alice"]])
    count = len(pushes(fcm, bob_fcm))
    mention = f"<!subteam^{oncall['id']}|@{oncall['handle']}>"
    alice.chat_postMessage(channel=room, text=f"{mention} the build is red")
    [paged] = wait_pushes(fcm, bob_fcm, count + 1)[count:]
    assert (
        paged["notification"]["body"] == f"pushed-alice-{tag}: @{oncall['handle']} the build is red"
    )

    # so does a group one, titled with its members' names
    group = alice.conversations_open(users=[ids["bob"], ids["eve"]])["channel"]["id"]
    count = len(pushes(fcm, bob_fcm))
    alice.chat_postMessage(channel=group, text="all three of us")
    [grouped] = wait_pushes(fcm, bob_fcm, count + 1)[count:]
    names = ", ".join(f"pushed-{n}-{tag}" for n in ("alice", "bob", "eve"))
    body = f"pushed-alice-{tag}: all three of us"
    assert grouped["notification"] == {"title": names, "body": body}
    assert grouped["data"]["channel"] == group

    # Do Not Disturb: held, then one summary per channel when it ends
    dave, dave_token = web["dave"], devices["dave"][0][1]
    other = alice.conversations_create(name=f"push-other-{tag}")["channel"]["id"]
    gone = alice.conversations_create(name=f"push-gone-{tag}")["channel"]["id"]
    for ch in (other, gone):
        alice.conversations_invite(channel=ch, users=ids["dave"])
    before = len(fcm.received)
    dave.dnd_setSnooze(num_minutes=60)
    alice.chat_postMessage(channel=room, text=f"<@{ids['dave']}> first")
    alice.chat_postMessage(channel=room, text=f"<@{ids['dave']}> second")
    deleted = alice.chat_postMessage(channel=room, text=f"<@{ids['dave']}> oops, secret")
    alice.chat_postMessage(channel=other, text=f"<@{ids['dave']}> elsewhere")
    alice.chat_postMessage(channel=gone, text=f"<@{ids['dave']}> you will leave")
    alice.chat_postMessage(channel=room, text=f"<@{ids['bob']}> while dave rests")
    wait_pushes(apns, bob_apns, 3)  # processed after dave's: they were held by now
    assert pushes(fcm, dave_token, before) == []
    alice.chat_delete(channel=room, ts=deleted["ts"])
    dave.conversations_leave(channel=gone)
    dave.dnd_endSnooze()
    summaries = wait_pushes(fcm, dave_token, 2, after=before)
    time.sleep(0.3)  # nothing more comes
    summaries = pushes(fcm, dave_token, before)
    assert len(summaries) == 2
    by_channel = {s["data"]["channel"]: s for s in summaries}
    assert set(by_channel) == {room, other}  # not the channel dave left
    assert by_channel[room]["data"]["count"] == "2"  # not the deleted one
    assert "secret" not in str(summaries)
    assert by_channel[room]["notification"]["body"].startswith("2 new messages")
    assert by_channel[other]["data"]["count"] == "1"

    # inside a scheduled window, held; dnd.endDnd ends it and the summary comes
    minute = time.gmtime().tm_hour * 60 + time.gmtime().tm_min
    start, end = clock((minute - 60) % 1440), clock((minute + 60) % 1440)
    dave.api_call("dnd.setSchedule", json={"start": start, "end": end, "tz": "UTC"})
    before = len(fcm.received)
    bob_before = len(pushes(apns, bob_apns))
    alice.chat_postMessage(channel=room, text=f"<@{ids['dave']}> in your quiet hours")
    alice.chat_postMessage(channel=room, text=f"<@{ids['bob']}> and you")
    wait_pushes(apns, bob_apns, bob_before + 1)  # processed after dave's: held by now
    assert pushes(fcm, dave_token, before) == []
    dave.dnd_endDnd()
    [released] = wait_pushes(fcm, dave_token, 1, after=before)
    assert released["data"]["channel"] == room and "quiet hours" in str(released)
    dave.api_call("dnd.setSchedule", json={})

    # a dead token is forgotten; the user's other devices still get pushes
    apns.dead.add(bob_apns)
    fcm_before = len(pushes(fcm, bob_fcm))
    alice.chat_postMessage(channel=room, text=f"<@{ids['bob']}> are you there?")
    wait_pushes(fcm, bob_fcm, fcm_before + 1)

    def bobs() -> list[str]:
        return [d["platform"] for d in web["bob"].api_call("push.list")["devices"]]

    wait_for(lambda: bobs() == ["fcm"], 5, "the dead APNs token to be forgotten")

    # 503 and 429 are retried with backoff, Retry-After honoured
    fcm.fail_next = [503, 429]
    fcm.retry_after = 1
    count = len(pushes(fcm, bob_fcm))
    alice.chat_postMessage(channel=room, text=f"<@{ids['bob']}> after a hiccup")
    [late] = wait_pushes(fcm, bob_fcm, count + 1, timeout=10)[count:]
    assert late["notification"]["body"].endswith("after a hiccup")
    fcm.retry_after = None

    # preferences (push.setPrefs): keywords, every message, nothing, muted channels
    eve, eve_token = web["eve"], devices["eve"][0][1]
    assert eve.api_call("push.getPrefs")["prefs"] == {
        "level": "mentions",
        "keywords": [],
        "muted_channels": [],
    }
    got = eve.api_call("push.setPrefs", json={"keywords": "Release Train, hotfix"})["prefs"]
    assert got["keywords"] == ["release train", "hotfix"]
    web["bob"].api_call("push.setPrefs", json={"level": "nothing"})
    dave.api_call("push.setPrefs", json={"level": "all", "muted_channels": other})
    time.sleep(PREFS_TTL * 2)  # the push worker's snapshot of the preferences
    seen = {"eve": len(pushes(apns, eve_token)), "dave": len(pushes(fcm, dave_token))}
    bob_seen = len(pushes(fcm, bob_fcm))
    alice.chat_postMessage(channel=room, text="the RELEASE  train leaves at 5")
    [kw] = wait_pushes(apns, eve_token, seen["eve"] + 1)[seen["eve"] :]
    assert kw["aps"]["alert"]["body"].endswith("the RELEASE train leaves at 5")
    wait_pushes(fcm, dave_token, seen["dave"] + 1)  # level all: every message
    alice.chat_postMessage(channel=other, text="<!channel> in the muted channel")
    alice.chat_postMessage(channel=room, text=f"<@{ids['bob']}> silenced")
    alice.chat_postMessage(channel=other, text=f"<@{ids['dave']}> a mention gets through")
    later = wait_pushes(fcm, dave_token, seen["dave"] + 3)[seen["dave"] + 1 :]
    time.sleep(0.3)  # and no more
    bodies = [p["notification"]["body"] for p in pushes(fcm, dave_token)[seen["dave"] + 1 :]]
    assert len(later) == len(bodies) == 2, bodies
    assert bodies[0].endswith("silenced")  # all: a message that mentions someone else
    assert bodies[1].endswith("a mention gets through")  # muted: only a direct mention
    assert len(pushes(fcm, bob_fcm)) == bob_seen
    bad = {"level": "loud"}
    assert error_of(eve.api_call, "push.setPrefs", json=bad) == "invalid_arguments"
    assert error_of(eve.api_call, "push.setPrefs", json={"keywords": "!!"}) == "invalid_arguments"
    web["bob"].api_call("push.setPrefs", json={"level": "mentions"})
    dave.api_call("push.setPrefs", json={"level": "mentions", "muted_channels": ""})
    time.sleep(PREFS_TTL * 2)

    # access lost while a push waits to retry: it is never sent
    private = alice.conversations_create(name=f"push-private-{tag}", is_private=True)
    secret_room = private["channel"]["id"]
    alice.conversations_invite(channel=secret_room, users=ids["bob"])
    fcm.fail_always = 503
    failed = fcm.answered.get(503, 0)
    count = len(pushes(fcm, bob_fcm))
    alice.chat_postMessage(channel=secret_room, text=f"<@{ids['bob']}> private plans")
    wait_for(lambda: fcm.answered.get(503, 0) > failed, 5, "the first attempt")
    web["bob"].conversations_leave(channel=secret_room)
    fcm.fail_always = None
    alice.chat_postMessage(channel=room, text=f"<@{ids['bob']}> after leaving")
    wait_pushes(fcm, bob_fcm, count + 1)
    time.sleep(2.0)  # longer than the retry's backoff
    assert "private plans" not in str(pushes(fcm, bob_fcm))
    assert fcm.answered[503] == failed + 1  # no attempt after bob left


def test_push_to_offline_members(push):
    srv, providers = push
    check_push(srv, providers, "emb")


def test_a_channels_topic_name_and_purpose_notes_are_never_pushed(push):
    """The server's notes of a changed topic, purpose or name go to the channel, not to
    phones, even when they quote an ``@channel``: the message after them is pushed, they
    are not."""
    srv, providers = push
    alice, bob = srv.user("notes-alice"), srv.user("notes-bob")
    web, token = srv.client(alice.token), _apns(9) + b"notes".hex()
    srv.client(bob.token).api_call(
        "push.register", json={"platform": "apns", "device_token": token}
    )
    room = web.conversations_create(name="notes-room")["channel"]["id"]
    web.conversations_invite(channel=room, users=bob.user_id)
    web.conversations_setTopic(channel=room, topic="<!channel> all hands at noon")
    web.conversations_setPurpose(channel=room, purpose=f"<@{bob.user_id}> plans")
    web.conversations_rename(channel=room, name="notes-room-2")
    web.chat_postMessage(channel=room, text="<!channel> the real one")
    [only] = wait_pushes(providers.apns, token, 1)
    time.sleep(0.5)  # anything pushed for the notes would have come before it
    got = pushes(providers.apns, token)
    assert len(got) == 1 and "the real one" in str(only), got


def test_a_bots_post_is_pushed_under_the_name_it_shows(push):
    """A bot's post with ``username`` (``chat:write.customize``) reaches an offline
    person's phone titled with that name, as Slack shows it."""
    srv, providers = push
    bot, bob = srv.user("named-bot", bot=True), srv.user("named-bob")
    token = _apns(10) + b"named".hex()
    srv.client(bob.token).api_call(
        "push.register", json={"platform": "apns", "device_token": token}
    )
    srv.client(bot.token).chat_postMessage(
        channel=bob.user_id, text="build 7 is green", username="CI"
    )
    [only] = wait_pushes(providers.apns, token, 1)
    assert only["aps"]["alert"]["title"] == "CI", only
