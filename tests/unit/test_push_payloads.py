"""What a push says (``parley.notify.payloads``): APNs and FCM shapes, collapsing per
channel, the 4 KiB bound, and one summary per channel after Do Not Disturb."""

from __future__ import annotations

import msgspec
import orjson

from parley.notify.payloads import MAX_PAYLOAD, Notice, apns, fcm, summary


def notice(ts: str = "1795600000.000100", reason: str = "mention", preview: str = "hi") -> Notice:
    return Notice("C0123ABC", "general", ts, "U0ALICE", "alice", preview, reason)


def test_apns_alert():
    headers, body = apns(notice(), "org.parley.app")
    assert headers == {
        "apns-push-type": "alert",
        "apns-topic": "org.parley.app",
        "apns-priority": "10",
        "apns-collapse-id": "C0123ABC:1795600000.000100",  # one per message
    }
    payload = orjson.loads(body)
    assert payload["aps"]["alert"] == {"title": "#general", "body": "alice: hi"}
    assert payload["aps"]["thread-id"] == "C0123ABC"
    assert payload["channel"] == "C0123ABC" and payload["ts"] == "1795600000.000100"


def test_fcm_message():
    body = orjson.loads(fcm(notice(), "fcm-token"))["message"]
    assert body["token"] == "fcm-token"
    assert body["notification"] == {"title": "#general", "body": "alice: hi"}
    assert body["android"]["collapse_key"] == "C0123ABC"
    assert body["android"]["notification"]["tag"] == "C0123ABC:1795600000.000100"
    assert all(isinstance(v, str) for v in body["data"].values())  # FCM data is strings


def test_payloads_fit_four_kib():
    big = notice(preview="é" * 5000)
    _, body = apns(big, "org.parley.app")
    assert len(body) <= MAX_PAYLOAD and orjson.loads(body)["aps"]["alert"]["body"].startswith(
        "alice: é"
    )
    assert len(fcm(big, "t" * 200)) <= MAX_PAYLOAD


def test_one_summary_per_channel_after_dnd():
    held = [
        notice("1795600000.000100", "channel", "first"),
        notice("1795600000.000300", "channel", "last"),
        notice("1795600000.000200", "mention", "middle"),
        Notice("C0OTHER", "random", "1795600001.000000", "U0BOB", "bob", "yo", "mention"),
    ]
    out = {n.channel: n for n in summary(held)}
    general = out["C0123ABC"]
    assert general.count == 3 and general.preview == "last" and general.reason == "mention"
    assert orjson.loads(apns(general, "t")[1])["aps"]["alert"]["body"] == (
        "3 new messages, the last from alice: last"
    )
    assert out["C0OTHER"].count == 1


def test_a_direct_message_is_titled_with_its_sender():
    direct = Notice("D0ABC", "", "1795600000.000100", "U0ALICE", "alice", "hi", "dm", direct=True)
    _, body = apns(direct, "org.parley.app")
    assert orjson.loads(body)["aps"]["alert"] == {"title": "alice", "body": "hi"}
    two = summary([direct, msgspec.structs.replace(direct, ts="1795600001.000100")])
    assert orjson.loads(fcm(two[0], "t"))["message"]["notification"]["title"] == "alice"


def test_a_group_direct_message_is_titled_with_its_members():
    n = Notice("G0GROUP", "mpdm-ann--ben-2--cy-1", "1.000001", "U0ANN", "ann", "hi", "channel")
    grouped = msgspec.structs.replace(n, direct=True)
    assert orjson.loads(fcm(grouped, "t"))["message"]["notification"] == {
        "title": "ann, ben-2, cy",
        "body": "ann: hi",
    }
    one = msgspec.structs.replace(grouped, channel="D0PAIR", channel_name="")
    assert orjson.loads(fcm(one, "t"))["message"]["notification"] == {"title": "ann", "body": "hi"}
