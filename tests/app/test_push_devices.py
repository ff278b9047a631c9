"""Parley's push extension: ``push.register``, ``push.unregister`` and ``push.list``
through ``slack_sdk``'s generic ``api_call``. The same checks run on MariaDB's directory
in ``tests/integration/test_mysql_search.py``."""

from __future__ import annotations

from parley.notify.devices import MAX_PER_USER
from tests.app.test_dnd import error_of
from tests.helpers import RunningServer

APNS = "a1" * 32  # 64 hex digits
FCM = "fcm-token_0123:APA91b" + "x" * 100


def check_devices(srv: RunningServer, tag: str) -> None:
    alice, bob = srv.user(f"push-alice-{tag}"), srv.user(f"push-bob-{tag}")
    a, b = srv.client(alice.token), srv.client(bob.token)
    assert a.api_call("push.list")["devices"] == []
    got = a.api_call("push.register", json={"platform": "apns", "device_token": APNS})["device"]
    assert got["platform"] == "apns" and got["token"] == APNS
    a.api_call("push.register", json={"platform": "fcm", "device_token": FCM})
    a.api_call("push.register", json={"platform": "apns", "device_token": APNS})  # again: one
    assert sorted(d["platform"] for d in a.api_call("push.list")["devices"]) == ["apns", "fcm"]
    # the phone changes hands: the token moves to its new user
    b.api_call("push.register", json={"platform": "apns", "device_token": APNS})
    assert [d["platform"] for d in a.api_call("push.list")["devices"]] == ["fcm"]
    assert [d["token"] for d in b.api_call("push.list")["devices"]] == [APNS]
    # only the owner unregisters
    theirs = {"platform": "apns", "device_token": APNS}
    assert error_of(a.api_call, "push.unregister", json=theirs) == "device_not_found"
    assert b.api_call("push.unregister", json={"platform": "apns", "device_token": APNS})["ok"]
    assert b.api_call("push.list")["devices"] == []
    for bad in (
        {"platform": "sms", "device_token": APNS},
        {"platform": "apns", "device_token": "not-hex"},
        {"platform": "fcm", "device_token": "sh"},
        {"platform": "fcm", "device_token": "bad token!"},
        {"platform": "apns"},
    ):
        assert error_of(a.api_call, "push.register", json=bad) == "invalid_arguments", bad
    for i in range(MAX_PER_USER - 1):
        a.api_call("push.register", json={"platform": "fcm", "device_token": f"{FCM}{i:03d}"})
    extra = {"platform": "fcm", "device_token": FCM + "zzz"}
    assert error_of(a.api_call, "push.register", json=extra) == "too_many_devices"
    bot = srv.client(srv.user(f"push-bot-{tag}", bot=True).token)
    mine = {"platform": "fcm", "device_token": FCM}
    assert error_of(bot.api_call, "push.register", json=mine) == "missing_scope"


def test_devices_on_the_embedded_directory(server):
    check_devices(server, "emb")
