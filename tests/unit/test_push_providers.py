"""The APNs and FCM clients against the local servers that speak those protocols
(``parley.notify.fakes``): real TLS, real HTTP/2, real JWTs checked by the server."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from parley.app import open_providers
from parley.config import Settings
from parley.errors import ConfigError
from parley.notify.apns import TOKEN_LIFETIME, ApnsProvider
from parley.notify.devices import Device
from parley.notify.fakes import FakeApns, FakeFcm
from parley.notify.fcm import CredentialsError, FcmProvider, credentials
from parley.notify.fcm import classify as fcm_classify
from parley.notify.payloads import Notice
from parley.notify.providers import FAILED, GONE, RETRY, SENT, retry_after
from parley.resilience.retries import Backoff

NOTICE = Notice("C1", "general", "1700000000.000100", "U1", "alice", "hi there", "mention")
APNS_TOKEN = "ab" * 32
FCM_TOKEN = "fcm:APA91b" + "y" * 60


def _apns(fake: FakeApns, **overrides) -> ApnsProvider:
    """A client of ``fake`` (its key, team and topic unless ``overrides`` say)."""
    settings = {
        "key_pem": fake.key_pem,
        "key_id": fake.key_id,
        "team_id": fake.team_id,
        "topic": fake.topic,
        "url": fake.url,
        "verify": fake.client_ssl(),
    }
    return ApnsProvider(**{**settings, **overrides})


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_apns_sends_and_classifies_every_answer(tmp_path):
    async def main():
        fake = FakeApns(tmp_path)
        await fake.start()
        # added to the real clock (which the fake checks tokens against): the first token
        # is made as if a lifetime ago, still young enough for Apple
        skew = [-TOKEN_LIFETIME - 1.0]
        apns = _apns(fake, clock=lambda: time.time() + skew[0])
        try:
            device = Device("apns", APNS_TOKEN, "U2", 0)
            assert (await apns.send(device, NOTICE)).outcome == SENT
            token, payload, _ = fake.received[0]
            assert token == APNS_TOKEN
            assert payload["aps"]["alert"] == {"title": "#general", "body": "alice: hi there"}
            assert payload["channel"] == "C1" and payload["ts"] == NOTICE.ts
            # many at once on one connection, one provider token for all
            results = await asyncio.gather(*(apns.send(device, NOTICE) for _ in range(50)))
            assert {r.outcome for r in results} == {SENT} and len(fake.jwts) == 1
            skew[0] = 0.0  # a new token after its lifetime
            assert (await apns.send(device, NOTICE)).outcome == SENT
            assert len(fake.jwts) == 2
            fake.dead.add("cd" * 32)
            gone = await apns.send(Device("apns", "cd" * 32, "U2", 0), NOTICE)
            assert (gone.outcome, gone.reason) == (GONE, "Unregistered")
            bad = await apns.send(Device("apns", "zz" * 32, "U2", 0), NOTICE)
            assert (bad.outcome, bad.reason) == (GONE, "BadDeviceToken")
            fake.fail_next = [429, 503]
            fake.retry_after = 7
            first, second = await apns.send(device, NOTICE), await apns.send(device, NOTICE)
            assert (first.outcome, first.reason, first.after) == (RETRY, "TooManyRequests", 7)
            assert (second.outcome, second.reason) == (RETRY, "ServiceUnavailable")
            wrong_topic = _apns(fake, topic="com.other")
            refused = await wrong_topic.send(device, NOTICE)
            assert (refused.outcome, refused.reason) == (FAILED, "BadTopic")
            await wrong_topic.close()
            # a key the server does not know: refused, and made again for the retry
            other = FakeApns(tmp_path / "other")
            stranger = _apns(fake, key_pem=other.key_pem)
            denied = await stranger.send(device, NOTICE)
            assert (denied.outcome, denied.reason) == (RETRY, "InvalidProviderToken")
            await stranger.close()
        finally:
            await apns.close()
            await fake.close()
        # the server gone: a retry, not an exception
        down = await _apns(fake).send(Device("apns", APNS_TOKEN, "U2", 0), NOTICE)
        assert down.outcome == RETRY

    _run(main())


def test_fcm_gets_an_access_token_and_classifies_every_answer(tmp_path):
    async def main():
        fake = FakeFcm(tmp_path)
        await fake.start()
        fcm = FcmProvider(
            credentials(fake.service_account()), url=fake.url, verify=fake.client_ssl()
        )
        try:
            device = Device("fcm", FCM_TOKEN, "U2", 0)
            results = await asyncio.gather(*(fcm.send(device, NOTICE) for _ in range(20)))
            assert {r.outcome for r in results} == {SENT}
            assert len(fake.issued) == 1  # one token fetched for all twenty
            token, message, _ = fake.received[0]
            assert token == FCM_TOKEN
            assert message["notification"] == {"title": "#general", "body": "alice: hi there"}
            assert message["data"]["channel"] == "C1"
            assert message["android"]["collapse_key"] == "C1"
            fake.dead.add(FCM_TOKEN + "dead")
            gone = await fcm.send(Device("fcm", FCM_TOKEN + "dead", "U2", 0), NOTICE)
            assert (gone.outcome, gone.reason) == (GONE, "UNREGISTERED")
            bad = await fcm.send(Device("fcm", "bad token!", "U2", 0), NOTICE)
            assert bad.outcome == GONE
            fake.fail_next = [429, 500, 503]
            fake.retry_after = 3
            answers = [await fcm.send(device, NOTICE) for _ in range(3)]
            assert [(r.outcome, r.reason) for r in answers] == [
                (RETRY, "QUOTA_EXCEEDED"),
                (RETRY, "INTERNAL"),
                (RETRY, "UNAVAILABLE"),
            ]
            assert answers[0].after == 3
            fake.issued.clear()  # the server forgot our token: 401, then a new one
            assert (await fcm.send(device, NOTICE)).outcome == RETRY
            assert (await fcm.send(device, NOTICE)).outcome == SENT
        finally:
            await fcm.close()
            await fake.close()

    _run(main())


def test_fcm_rejects_a_file_that_is_not_a_service_account():
    for raw in (b"{", b"[]", b'{"project_id": "p"}'):
        with pytest.raises(CredentialsError):
            credentials(raw)


def test_fcm_classification_of_google_errors():
    h: dict[str, str] = {}
    forbidden = b'{"error": {"code": 403, "status": "PERMISSION_DENIED", "details": [{"errorCode": "SENDER_ID_MISMATCH"}]}}'  # noqa: E501
    assert fcm_classify(403, forbidden, h).outcome == GONE
    assert fcm_classify(400, b'{"error": {"message": "bad data"}}', h).outcome == FAILED
    assert fcm_classify(502, b"<html>", h).outcome == RETRY


def test_backoff_grows_with_jitter_and_honours_retry_after():
    rand = random.Random(7)
    backoff = Backoff()
    waits = [backoff.wait(n, rand=rand) for n in range(1, 12)]
    assert all(0.25 <= w <= 30 for w in waits)
    assert waits[0] <= 0.5 and waits[-1] >= 15
    assert backoff.wait(1, at_least=10, rand=rand) == 10
    assert retry_after("5") == 5 and retry_after("soon") is None and retry_after(None) is None
    assert retry_after("-1") is None


def test_the_http2_client_multiplexes_reconnects_and_times_out(tmp_path):
    async def main():
        fake = FakeApns(tmp_path)
        await fake.start()
        apns = _apns(fake, timeout=0.5)
        device = Device("apns", APNS_TOKEN, "U2", 0)
        try:
            # more at once than the server's 100 streams: the rest wait for a stream
            results = await asyncio.gather(*(apns.send(device, NOTICE) for _ in range(300)))
            assert {r.outcome for r in results} == {SENT} and len(fake.received) == 300
            fake.drop_connections()  # the connection is lost: the next push reconnects
            await asyncio.sleep(0.05)
            assert (await apns.send(device, NOTICE)).outcome == SENT
            fake.delay = 2.0  # a provider that does not answer: a retry, the stream freed
            slow = await asyncio.gather(*(apns.send(device, NOTICE) for _ in range(150)))
            assert {(r.outcome, r.reason) for r in slow} == {(RETRY, "no answer in 0.5 s")}
            fake.delay = 0.0
            assert (await apns.send(device, NOTICE)).outcome == SENT
        finally:
            await apns.close()
            await fake.close()
        refused = await apns.send(device, NOTICE)  # nobody listening
        assert refused.outcome == RETRY and "cannot connect" in refused.reason
        await apns.close()

    _run(main())


def test_provider_settings_are_checked_at_start_up(tmp_path):
    with pytest.raises(ConfigError, match="apns"):
        Settings(apns_key_file="key.p8")  # without its key id, team and topic
    apns = {"apns_key_id": "K", "apns_team_id": "T", "apns_topic": "org.x"}
    missing = Settings(apns_key_file=str(tmp_path / "nope.p8"), **apns)
    with pytest.raises(ConfigError, match="push providers"):
        asyncio.run(_open(missing))
    (tmp_path / "sa.json").write_text('{"type": "service_account"}')
    with pytest.raises(ConfigError, match="service-account"):
        asyncio.run(_open(Settings(fcm_credentials=str(tmp_path / "sa.json"))))
    assert asyncio.run(_open(Settings())) == []  # nothing configured: no push


async def _open(settings):
    providers = open_providers(settings)
    for provider in providers.values():
        await provider.close()
    return sorted(providers)
