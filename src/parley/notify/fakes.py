"""Local stand-ins for APNs and FCM that speak their real protocols, for the tests and
``parley bench push`` (the real providers cannot be reached from here).

Both are HTTP/2 servers over TLS (a self-signed certificate made at start, which the
clients trust through ``ca_file``) that check what Apple and Google check and answer as
they answer:

- :class:`FakeApns`: ``POST /3/device/<token>`` with an ES256 provider JWT (signature,
  ``kid``, ``iss``, age under an hour), ``apns-topic``, ``apns-push-type``, a JSON body
  with ``aps`` of at most 4 KiB. Dead tokens get 410 ``Unregistered``, malformed ones
  400 ``BadDeviceToken``.
- :class:`FakeFcm`: the OAuth2 token endpoint (a JWT-bearer grant signed RS256 by the
  service account's key, with its scope and audience) and ``POST
  /v1/projects/<project>/messages:send`` with a bearer access token it issued. Dead
  tokens get 404 ``UNREGISTERED``.

Each records what it delivered (:attr:`Fake.received`) and can be told to fail: the
statuses in :attr:`Fake.fail_next` answer the next requests (429 and 5xx carry
``Retry-After`` when :attr:`Fake.retry_after` is set).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import re
import secrets
import ssl
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import jwt
import orjson
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

#: ``handler(method, path, headers, body) -> (status, headers, body)``.
Handler = Callable[[str, str, dict[str, str], bytes], Awaitable[tuple[int, list, bytes]]]


def _pem(key: Any) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def self_signed(directory: Path, issuer: str) -> tuple[Path, Path]:
    """A certificate for ``localhost`` and ``127.0.0.1``, its own CA named ``issuer``
    (distinct names let one CA file trust several), and its key, written to
    ``directory``; their paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(_pem(key))
    return cert_path, key_path


class _Connection(asyncio.Protocol):
    """One HTTP/2 connection: requests gathered per stream, answered by the handler."""

    def __init__(self, handler: Handler, open_: set[_Connection]) -> None:
        self._handler = handler
        self._open = open_
        self._h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        self._streams: dict[int, tuple[dict[str, str], bytearray]] = {}
        self._transport: asyncio.Transport | None = None
        self._tasks: set[asyncio.Task] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._open.add(self)
        self._h2.initiate_connection()
        self._flush()

    def _flush(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(self._h2.data_to_send())

    def data_received(self, data: bytes) -> None:
        try:
            received = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._flush()
            if self._transport is not None:
                self._transport.close()
            return
        for ev in received:
            if isinstance(ev, h2.events.RequestReceived):
                self._streams[ev.stream_id] = (dict(ev.headers), bytearray())
            elif isinstance(ev, h2.events.DataReceived):
                if ev.stream_id in self._streams:
                    self._streams[ev.stream_id][1].extend(ev.data)
                self._h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id in self._streams:
                headers, body = self._streams.pop(ev.stream_id)
                task = asyncio.get_running_loop().create_task(
                    self._answer(ev.stream_id, headers, bytes(body))
                )
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            elif isinstance(ev, h2.events.StreamReset):
                self._streams.pop(ev.stream_id, None)
            elif isinstance(ev, h2.events.ConnectionTerminated) and self._transport:
                self._transport.close()
        self._flush()

    async def _answer(self, stream: int, headers: dict[str, str], body: bytes) -> None:
        method, path = headers.get(":method", ""), headers.get(":path", "")
        try:
            status, extra, out = await self._handler(method, path, headers, body)
        except Exception:  # a bug in a fake: answer as a server error would
            status, extra, out = 500, [], b""
        try:
            head = [(":status", str(status)), ("content-length", str(len(out))), *extra]
            self._h2.send_headers(stream, head, end_stream=not out)
            if out:
                self._h2.send_data(stream, out, end_stream=True)
        except h2.exceptions.H2Error:
            return  # the client gave up on the stream
        self._flush()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._open.discard(self)
        for task in self._tasks:
            task.cancel()


class Fake:
    """What both providers' stand-ins share: the TLS HTTP/2 server, failure scripts and
    the record of deliveries."""

    def __init__(self, directory: Path) -> None:
        issuer = f"Parley local {type(self).__name__} {secrets.token_hex(4)}"
        self.ca_file, self._key_file = self_signed(directory, issuer)
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[_Connection] = set()
        #: Statuses answered to the next requests, first first (then normal service).
        self.fail_next: list[int] = []
        #: Every request answers ``fail_always`` while it is set (an outage).
        self.fail_always: int | None = None
        #: ``Retry-After`` seconds sent with 429 and 5xx answers, when set.
        self.retry_after: float | None = None
        #: Device tokens the provider knows to be dead.
        self.dead: set[str] = set()
        #: ``(device token, payload, monotonic arrival time)`` per push delivered.
        self.received: list[tuple[str, dict, float]] = []
        #: Requests answered, by status.
        self.answered: dict[int, int] = {}
        #: Seconds every answer waits (a slow provider).
        self.delay = 0.0
        self._arrived = asyncio.Event()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    async def start(self) -> None:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.ca_file, self._key_file)
        ctx.set_alpn_protocols(["h2"])
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self._handle, self._connections), "127.0.0.1", 0, ssl=ctx
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for conn in list(self._connections):
                conn.abort()
            await self._server.wait_closed()

    def drop_connections(self) -> None:
        """Cuts every open connection (the server keeps listening)."""
        for conn in list(self._connections):
            conn.abort()

    def client_ssl(self) -> ssl.SSLContext:
        """A client context that trusts this server."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[str, dict, float]]:
        """Waits until ``count`` pushes in all were delivered; :attr:`received`."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{len(self.received)} of {count} pushes arrived")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                continue
        return self.received

    def _scripted(self) -> int | None:
        if self.fail_always is not None:
            return self.fail_always
        return self.fail_next.pop(0) if self.fail_next else None

    def _failure(self, status: int, body: bytes) -> tuple[int, list, bytes]:
        extra = []
        if self.retry_after is not None and (status == 429 or status >= 500):
            extra.append(("retry-after", str(int(self.retry_after))))
        return status, extra, body

    def _delivered(self, token: str, payload: dict) -> None:
        self.received.append((token, payload, time.monotonic()))
        self._arrived.set()

    async def _handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list, bytes]:
        if self.delay:
            await asyncio.sleep(self.delay)
        status, extra, out = await self.answer(method, path, headers, body)
        self.answered[status] = self.answered.get(status, 0) + 1
        return status, extra, out

    async def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list, bytes]:
        raise NotImplementedError


def _apns_error(reason: str) -> bytes:
    return orjson.dumps({"reason": reason})


class FakeApns(Fake):
    """APNs (``api.push.apple.com``) for one team, key and topic."""

    def __init__(self, directory: Path, topic: str = "org.parley.app") -> None:
        super().__init__(directory)
        key = ec.generate_private_key(ec.SECP256R1())
        self.key_pem = _pem(key)
        self._public = key.public_key()
        self.key_id, self.team_id, self.topic = "PARLEYKEY1", "PARLEYTEAM", topic
        #: Provider tokens (JWTs) seen, to check they are reused.
        self.jwts: set[str] = set()

    async def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list, bytes]:
        match = re.fullmatch(r"/3/device/([^/?]+)", path)
        if method != "POST" or match is None:
            return 404, [], _apns_error("BadPath")
        bearer = headers.get("authorization", "")
        if not bearer.startswith("bearer "):
            return 403, [], _apns_error("MissingProviderToken")
        token = bearer.removeprefix("bearer ")
        try:
            if jwt.get_unverified_header(token).get("kid") != self.key_id:
                return 403, [], _apns_error("InvalidProviderToken")
            claims = jwt.decode(token, self._public, algorithms=["ES256"])
        except jwt.PyJWTError:
            return 403, [], _apns_error("InvalidProviderToken")
        if claims.get("iss") != self.team_id:
            return 403, [], _apns_error("InvalidProviderToken")
        if time.time() - int(claims.get("iat", 0)) > 3600:
            return 403, [], _apns_error("ExpiredProviderToken")
        self.jwts.add(token)
        if headers.get("apns-topic") != self.topic:
            return 400, [], _apns_error("BadTopic" if "apns-topic" in headers else "MissingTopic")
        if headers.get("apns-push-type") not in ("alert", "background"):
            return 400, [], _apns_error("InvalidPushType")
        if len(body) > 4096:
            return 413, [], _apns_error("PayloadTooLarge")
        try:
            payload = orjson.loads(body)
            assert isinstance(payload, dict) and isinstance(payload.get("aps"), dict)
        except (orjson.JSONDecodeError, AssertionError):
            return 400, [], _apns_error("BadPayload" if body else "PayloadEmpty")
        scripted = self._scripted()
        if scripted is not None:
            return self._failure(scripted, _apns_error(_APNS_REASONS.get(scripted, "Error")))
        device = match.group(1)
        if re.fullmatch(r"[0-9a-fA-F]{64,200}", device) is None:
            return 400, [], _apns_error("BadDeviceToken")
        if device in self.dead:
            stamp = int(time.time() * 1000)
            return 410, [], orjson.dumps({"reason": "Unregistered", "timestamp": stamp})
        self._delivered(device, payload)
        return 200, [("apns-id", _uuid())], b""


_APNS_REASONS = {429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceUnavailable"}


def _uuid() -> str:
    h = secrets.token_hex(16).upper()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _google_error(code: int, status: str, message: str, fcm_code: str = "") -> bytes:
    details = []
    if fcm_code:
        details = [
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcm_code}
        ]
    error = {"code": code, "message": message, "status": status, "details": details}
    return orjson.dumps({"error": error})


_FCM_FAILURES = {
    429: ("RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"),
    500: ("INTERNAL", "INTERNAL"),
    503: ("UNAVAILABLE", "UNAVAILABLE"),
}


class FakeFcm(Fake):
    """FCM HTTP v1 and Google's OAuth2 token endpoint for one service account."""

    def __init__(self, directory: Path, project: str = "parley-test") -> None:
        super().__init__(directory)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._key_pem = _pem(key).decode()
        self._public = key.public_key()
        self.project = project
        self.email = f"push@{project}.iam.gserviceaccount.com"
        #: Access tokens issued, to check they are reused.
        self.issued: set[str] = set()

    def service_account(self) -> bytes:
        """The service account's key file, as Google issues it (after :meth:`start`)."""
        return orjson.dumps(
            {
                "type": "service_account",
                "project_id": self.project,
                "private_key_id": "parleykey1",
                "private_key": self._key_pem,
                "client_email": self.email,
                "client_id": "1",
                "token_uri": f"{self.url}/token",
            }
        )

    async def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list, bytes]:
        json = [("content-type", "application/json; charset=UTF-8")]
        if method == "POST" and path == "/token":
            status, out = self._grant(body)
            return status, json, out
        if method != "POST" or path != f"/v1/projects/{self.project}/messages:send":
            return 404, json, _google_error(404, "NOT_FOUND", "Not found")
        bearer = headers.get("authorization", "")
        if bearer.removeprefix("Bearer ") not in self.issued:
            message = "Request had invalid authentication credentials."
            return 401, json, _google_error(401, "UNAUTHENTICATED", message)
        try:
            message = orjson.loads(body)["message"]
            device = message["token"]
            assert isinstance(device, str) and isinstance(message.get("data", {}), dict)
            assert all(isinstance(v, str) for v in message.get("data", {}).values())
        except (orjson.JSONDecodeError, KeyError, TypeError, AssertionError):
            invalid = _google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
            return 400, json, invalid
        scripted = self._scripted()
        if scripted is not None:
            state, code = _FCM_FAILURES.get(scripted, ("UNKNOWN", "UNSPECIFIED_ERROR"))
            status, extra, out = self._failure(
                scripted, _google_error(scripted, state, state, code)
            )
            return status, json + extra, out
        if re.fullmatch(r"[A-Za-z0-9_:\-]{8,4096}", device) is None:
            bad = "The registration token is not a valid FCM registration token"
            return 400, json, _google_error(400, "INVALID_ARGUMENT", bad, "INVALID_ARGUMENT")
        if device in self.dead:
            gone = _google_error(
                404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED"
            )
            return 404, json, gone
        self._delivered(device, message)
        return 200, json, orjson.dumps({"name": f"projects/{self.project}/messages/{_uuid()}"})

    def _grant(self, body: bytes) -> tuple[int, bytes]:
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, orjson.dumps({"error": "unsupported_grant_type"})
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                self._public,
                algorithms=["RS256"],
                audience=f"{self.url}/token",
                issuer=self.email,
                options={"require": ["exp", "iat", "aud", "iss"]},
            )
        except jwt.PyJWTError as exc:
            return 400, orjson.dumps({"error": "invalid_grant", "error_description": str(exc)})
        if "firebase.messaging" not in str(claims.get("scope", "")).split("/")[-1]:
            return 400, orjson.dumps({"error": "invalid_scope"})
        token = "ya29." + secrets.token_urlsafe(32)
        self.issued.add(token)
        return 200, orjson.dumps(
            {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}
        )


@dataclass
class LocalProviders:
    apns: FakeApns
    fcm: FakeFcm
    #: The settings (``Settings`` field names) that point a server at them.
    settings: dict[str, str]


@contextlib.contextmanager
def running(directory: Path) -> Iterator[LocalProviders]:
    """Both stand-ins serving on an event loop of their own (a thread), their key files
    and CA bundle written to ``directory``; stopped on exit."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="local-providers", daemon=True)
    thread.start()

    def run(coro: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(30)  # type: ignore[arg-type]

    apns, fcm = FakeApns(directory / "apns"), FakeFcm(directory / "fcm")
    try:
        run(apns.start())
        run(fcm.start())
        key, account = directory / "apns.p8", directory / "fcm.json"
        bundle = directory / "ca.pem"
        key.write_bytes(apns.key_pem)
        account.write_bytes(fcm.service_account())
        bundle.write_bytes(apns.ca_file.read_bytes() + fcm.ca_file.read_bytes())
        settings = {
            "apns_key_file": str(key),
            "apns_key_id": apns.key_id,
            "apns_team_id": apns.team_id,
            "apns_topic": apns.topic,
            "apns_url": apns.url,
            "fcm_credentials": str(account),
            "fcm_url": fcm.url,
            "push_ca_file": str(bundle),
        }
        yield LocalProviders(apns, fcm, settings)
    finally:
        run(apns.close())
        run(fcm.close())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


class FakePagerDuty(Fake):
    """PagerDuty's Events API v2 (``POST /v2/enqueue``), checking what PagerDuty checks:
    a 32-character ``routing_key``, an ``event_action`` of ``trigger``, ``acknowledge``
    or ``resolve``, a ``dedup_key`` (required but for a trigger), and with a trigger a
    ``payload`` with ``summary`` (at most 1,024 characters), ``source`` and a
    ``severity`` of ``critical``, ``error``, ``warning`` or ``info``. Accepted events are
    recorded in :attr:`received` as ``(dedup_key, event, time)``."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.routing_key = secrets.token_hex(16)

    async def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list, bytes]:
        json = [("content-type", "application/json")]
        if method != "POST" or path != "/v2/enqueue":
            return 404, json, b'{"status": "not found"}'
        errors = _pagerduty_errors(body, self.routing_key)
        if errors:
            invalid = {"status": "invalid event", "message": "Event object is invalid"}
            return 400, json, orjson.dumps({**invalid, "errors": errors})
        scripted = self._scripted()
        if scripted is not None:
            return self._failure(scripted, b'{"status": "throttled"}')
        event = orjson.loads(body)
        key = event.get("dedup_key") or secrets.token_hex(16)
        self._delivered(key, event)
        ok = {"status": "success", "message": "Event processed", "dedup_key": key}
        return 202, json, orjson.dumps(ok)


def _pagerduty_errors(body: bytes, routing_key: str) -> list[str]:
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ["body is not JSON"]
    if not isinstance(event, dict):
        return ["an event is a JSON object"]
    errors = []
    if event.get("routing_key") != routing_key:
        errors.append("routing_key is not a valid integration key")
    action = event.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        errors.append("event_action must be trigger, acknowledge or resolve")
    key = event.get("dedup_key")
    if key is not None and (not isinstance(key, str) or not 0 < len(key) <= 255):
        errors.append("dedup_key must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not key:
        errors.append("dedup_key is required for acknowledge and resolve")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return [*errors, "payload is required for trigger"]
        summary = payload.get("summary")
        if not isinstance(summary, str) or not 0 < len(summary) <= 1024:
            errors.append("payload.summary must be 1 to 1024 characters")
        if not isinstance(payload.get("source"), str) or not payload["source"]:
            errors.append("payload.source is required")
        if payload.get("severity") not in ("critical", "error", "warning", "info"):
            errors.append("payload.severity must be critical, error, warning or info")
    return errors
