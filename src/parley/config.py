"""Settings: read once at start-up (environment, then command-line overrides), frozen,
and passed explicitly to whatever needs them. Nothing else reads the environment.

Every bound is documented with what it costs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from parley.errors import ConfigError
from parley.resilience.breaker import Policy
from parley.storage.mysql.urls import topology

#: What ``parley serve --role`` accepts.
ROLES = ("all", "api", "gateway", "worker")


@dataclass(frozen=True, slots=True)
class Settings:
    #: What this node serves: ``all`` (the Web API, the web client and the WebSocket
    #: gateway: the embedded default), ``api`` (the Web API and web client only),
    #: ``gateway`` (WebSockets and the event-log consumer that feeds them) or ``worker``
    #: (:mod:`parley.worker.republish`). Every role answers ``/healthz`` and ``/readyz``
    #: on ``port``.
    role: str = "all"
    #: The WebSocket URL ``rtm.connect`` hands out, as clients reach the gateways (for
    #: example ``wss://chat.example.com/rtm``, a load balancer in front of them); empty:
    #: this node's own gateway port on the host the client called.
    gateway_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    #: Port of the WebSocket gateway (RTM); 0 picks a free one.
    gateway_port: int = 8081
    #: Seconds of silence before the gateway pings a connection, and again before it
    #: drops one that did not answer.
    heartbeat: float = 30.0
    #: Accept permessage-deflate when a client offers it (without context takeover, so
    #: each event is compressed once for all: ~7 µs per event, nothing per connection).
    ws_deflate: bool = True
    #: Write WebSocket frames from a C thread of their own, without the GIL, so the
    #: kernel's work for each delivery runs beside the event loop instead of on it
    #: (``parley.gateway.outbound``); off, or where the extension is not built, the
    #: event loop writes them.
    ws_write_thread: bool = True
    #: How many such threads, each writing its share of the connections; 0: one for
    #: each CPU the process may run on, at most 4 (``parley.gateway.outbound``).
    ws_write_threads: int = 0
    #: Mark the web client's session cookies ``Secure`` whatever the request's scheme:
    #: set it when a TLS proxy serves Parley to browsers (Parley itself listens in plain
    #: HTTP, so it cannot tell). Requests that arrive over HTTPS get ``Secure`` anyway.
    secure_cookies: bool = False
    #: Seconds a stopping gateway gives clients, after ``goodbye``, to move elsewhere.
    drain_seconds: float = 5.0
    #: Seconds an ``rtm.connect`` ticket stays valid (single use).
    ticket_ttl: float = 30.0
    data_dir: Path = Path("data")
    #: Number of SQLite message shards in a new data dir. Fixed once the dir exists.
    #: One by default: one process writes every shard from its event loop, on one disk,
    #: so more files add no write parallelism, only a WAL ``fdatasync`` (a device flush)
    #: to every group commit that touches them: four shards cost 0.53 ms a round against
    #: 0.13 for one here, and raised the p99 of ``parley bench latency`` at 3,000 msg/s
    #: from 12-13 to 20 ms. Sharding pays across servers (``shard_urls``).
    shards: int = 1
    #: MariaDB/MySQL shard databases shared by a fleet, one URL each
    #: (``mysql://user:password@host:3306/parley_s0``), in a fixed order: set as
    #: ``PARLEY_SHARDS=url,url,...`` (a number there is the SQLite count above). Empty:
    #: SQLite. Databases are created if missing. See docs/storage.md.
    shard_urls: tuple[str, ...] = ()
    #: The database of the directory (users, tokens, channels); empty: the first shard's.
    directory_url: str = ""
    #: A read replica per shard, aligned with ``shard_urls`` (empty entries: none), for
    #: history, replies and resume reads; the primary serves them when it fails.
    shard_replicas: tuple[str, ...] = ()
    #: Seconds any MySQL wait may take (connect, an answer, a free pooled connection);
    #: row-lock waits give up after half of it. A failing server fails calls, never
    #: hangs them.
    mysql_timeout: float = 10.0
    #: Pooled connections per MySQL database for reads and directory writes (each also
    #: holds a server thread); writers use one more connection per shard.
    mysql_pool: int = 8
    #: Event-bus partitions; a channel's events always go to the same one.
    partitions: int = 16
    #: Seconds a gateway waits for a channel's missing ``seq`` (published out of order by
    #: another node, or lost) before reading it from the store; later messages wait too.
    reorder_window: float = 0.5
    #: Snowflake worker id of this process (0-1023); unique per node in a fleet.
    worker_id: int = 0
    #: Longest message text accepted, in characters (Slack: 40,000).
    max_text: int = 40_000
    #: Largest request body accepted, in bytes.
    max_body: int = 1 << 20
    #: Largest file accepted (``files.getUploadURLExternal``), in bytes; its upload is
    #: the one body allowed past ``max_body``.
    max_file: int = 50 << 20
    #: Largest request line plus headers, in bytes (answered 431 past it).
    max_header: int = 64 << 10
    #: Seconds a client has to send a request's headers once it started.
    header_timeout: float = 10.0
    #: Most operations one group commit takes into a single transaction.
    commit_batch: int = 512
    #: SQLite ``synchronous``: FULL fsyncs every group commit (survives power loss);
    #: NORMAL survives a killed process but may lose the last commits on power loss.
    sqlite_synchronous: str = "FULL"
    #: Threads serving reads (history, lists); each holds one connection per shard.
    read_threads: int = 2
    #: Nice steps the event loop's thread runs above the process's other threads, once
    #: the server is up (:func:`parley.server.raise_loop_priority`); 0 leaves it alone.
    #: Needs CAP_SYS_NICE or a nice limit (``RLIMIT_NICE``, systemd's ``LimitNICE=``);
    #: without, the loop keeps the process's priority (logged once).
    loop_priority: int = 5
    #: A person's messages per second, sustained (the seed: 1), and the burst allowed.
    message_rate: float = 1.0
    message_burst: float = 10.0
    #: A bot's messages per second per channel (the seed: 1).
    bot_channel_rate: float = 1.0
    #: Calls per minute per user to each Web API method of Slack's tiers 1-3 (the seed:
    #: 60); 0 turns this limit off.
    api_calls_per_minute: float = 60.0
    #: WebSocket frames a connection may send per second, and the burst; past
    #: ``ws_frame_flood`` times that the connection is closed (1008).
    ws_frame_rate: float = 50.0
    ws_frame_burst: float = 100.0
    ws_frame_flood: float = 10.0
    #: Largest WebSocket frame a client may send, in bytes (closed 1009 past it).
    ws_max_frame: int = 1 << 20
    #: Seconds a new connection to the gateway has to finish its WebSocket upgrade.
    ws_handshake_timeout: float = 10.0
    #: Concurrent WebSocket connections per user (the next upgrade gets 429).
    ws_connections_per_user: int = 20
    #: NATS JetStream for the event log (``nats://host:4222``), shared by a fleet; empty:
    #: the in-process bus. The stream's name and how long it keeps events (seconds).
    bus_url: str = ""
    bus_stream: str = "PARLEY"
    bus_max_age: float = 86_400.0
    #: The stream's size bound in bytes (the oldest events go first), and how many
    #: JetStream servers keep a copy (3 in a cluster of three survives losing one).
    bus_max_bytes: int = 1 << 30
    bus_replicas: int = 1
    #: Redis shared by a fleet (``redis://host:6379/0``): rate limits, ``rtm.connect``
    #: tickets, the recent-message buffer, cache evictions and presence. Empty: each
    #: lives in this process.
    redis_url: str = ""
    #: Prefix of every Redis key and pub/sub channel, so that deployments (or tests)
    #: sharing one Redis stay apart.
    redis_prefix: str = "parley:"
    #: Seconds between a gateway node's presence heartbeats in Redis; a node silent for
    #: three of them is presumed dead and its users' connections stop counting.
    presence_heartbeat: float = 5.0
    #: Seconds a validated token stays cached (the seed: 15 minutes). Without Redis, also
    #: the longest a token revoked through another process stays usable here (with it,
    #: ``auth.revoke`` evicts the token on every node at once).
    token_cache_ttl: float = 900.0
    #: Seconds channel metadata and membership stay cached (a change through another
    #: process is seen within this without Redis, at once with it).
    membership_cache_ttl: float = 900.0
    #: Messages kept per channel in the recent-message buffer (about 1 KiB each).
    recent_per_channel: int = 200
    #: Channels the recent-message buffer holds at once (least recently written dropped);
    #: the buffer takes at most ``recent_per_channel * recent_channels`` KiB (~200 MiB).
    recent_channels: int = 1000
    #: Seconds a message stays in the recent-message buffer (the seed: 24 hours).
    recent_ttl: float = 86_400.0
    #: Mobile push (docs/notifications.md). APNs: the team's ``.p8`` signing key file,
    #: its key id, the team id, the app's bundle id (``apns-topic``) and the endpoint
    #: (``https://api.sandbox.push.apple.com`` for development builds). Empty key file:
    #: no APNs pushes.
    apns_key_file: str = ""
    apns_key_id: str = ""
    apns_team_id: str = ""
    apns_topic: str = ""
    apns_url: str = "https://api.push.apple.com"
    #: FCM: the service account's JSON key file as Google issues it, and the endpoint.
    #: Empty: no FCM pushes.
    fcm_credentials: str = ""
    fcm_url: str = "https://fcm.googleapis.com"
    #: A PEM file of certificate authorities the push providers' TLS is checked against
    #: instead of the system's (a TLS-inspecting proxy; the tests' local providers).
    push_ca_file: str = ""
    #: Pushes in flight (sent or waiting to retry) at most; the push worker's reading
    #: waits while this many are.
    push_concurrency: int = 256
    #: Seconds the push worker uses a snapshot of everyone's notification preferences
    #: (``push.setPrefs``): a change applies to pushes within this.
    push_prefs_ttl: float = 5.0
    #: Attempts at one push before it goes to the dead letters (the first included),
    #: and the first wait between two (doubling, at most 30 s, with jitter).
    push_attempts: int = 5
    push_retry_base: float = 0.5
    #: How often a worker looks for scheduled messages that are due
    #: (``chat.scheduleMessage``): one is posted at most this late; and for reminders
    #: due (:mod:`parley.pipeline.reminders`) and changes to people's accounts made by
    #: ``parley user`` (:mod:`parley.pipeline.accounts`).
    schedule_interval: float = 1.0
    #: Seconds between sweeps of message retention (:mod:`parley.retention`), on the
    #: nodes that run workers: a message is removed within this long of passing its
    #: workspace's or conversation's span.
    retention_interval: float = 300.0
    #: Link previews: the server fetches the pages and images that posts link to and
    #: attaches what they show (:mod:`parley.unfurl`). Off: no fetches, no previews.
    unfurl: bool = True
    #: Let previews be fetched from loopback and private addresses (a workspace whose
    #: links are to its own intranet). Off, a link whose host resolves to one is not
    #: fetched, so nobody can make the server reach inside its network.
    unfurl_private: bool = False
    #: Circuit breakers, one per dependency instance (the seed's defaults): open when
    #: more than ``breaker_error_rate`` of the last ``breaker_window`` calls failed (once
    #: ``breaker_min_calls`` are known), let probes through after
    #: ``breaker_open_seconds``, close after ``breaker_close_after`` successes.
    breaker_error_rate: float = 0.05
    breaker_window: int = 100
    breaker_min_calls: int = 20
    breaker_open_seconds: float = 30.0
    breaker_close_after: int = 3
    #: Paging without Alertmanager (docs/operations.md): a PagerDuty Events API v2
    #: integration key (empty: no paging), its endpoint, a CA file for its TLS (tests),
    #: seconds between two evaluations of the alert rules, and a factor on their ``for``
    #: durations (tests make them instant).
    pagerduty_routing_key: str = ""
    pagerduty_url: str = "https://events.pagerduty.com"
    alerts_ca_file: str = ""
    alert_interval: float = 15.0
    alert_for_scale: float = 1.0
    #: Logs (docs/operations.md): ``json`` (one object per line) or ``text``, and the
    #: level (``DEBUG`` traces each call and each message handed out, by request id).
    log_format: str = "json"
    log_level: str = "INFO"
    #: Events kept per bus partition in the in-process bus, about 1 KiB each; the bus
    #: holds at most ``2 * partitions * bus_retention`` of them (~160 MiB by default).
    bus_retention: int = 5_000

    def __post_init__(self) -> None:
        checks = {
            "role": self.role in ROLES,
            "gateway_url": not self.gateway_url or self.gateway_url.startswith(("ws://", "wss://")),
            "port": 0 <= self.port <= 65535,
            "gateway_port": 0 <= self.gateway_port <= 65535,
            "heartbeat": 1 <= self.heartbeat <= 3600,
            "ticket_ttl": 1 <= self.ticket_ttl <= 3600,
            "drain_seconds": 0 <= self.drain_seconds <= 3600,
            "shards": 1 <= self.shards <= 1024,
            "mysql_timeout": 0.1 <= self.mysql_timeout <= 3600,
            "mysql_pool": 1 <= self.mysql_pool <= 1000,
            "partitions": 1 <= self.partitions <= 4096,
            "worker_id": 0 <= self.worker_id <= 1023,
            "max_text": 1 <= self.max_text <= 1_000_000,
            "max_body": 1024 <= self.max_body <= 64 << 20,
            "max_file": 1 <= self.max_file <= 1 << 30,
            "max_header": 8192 <= self.max_header <= 1 << 20,
            "header_timeout": 1 <= self.header_timeout <= 600,
            "commit_batch": 1 <= self.commit_batch <= 100_000,
            "sqlite_synchronous": self.sqlite_synchronous in ("FULL", "NORMAL", "EXTRA"),
            "read_threads": 1 <= self.read_threads <= 64,
            "ws_write_threads": 0 <= self.ws_write_threads <= 64,
            "loop_priority": 0 <= self.loop_priority <= 39,
            "message_rate": 0 < self.message_rate <= 100_000,
            "message_burst": 1 <= self.message_burst <= 100_000,
            "bot_channel_rate": 0 < self.bot_channel_rate <= 100_000,
            "api_calls_per_minute": 0 <= self.api_calls_per_minute <= 1_000_000,
            "ws_frame_rate": 0 < self.ws_frame_rate <= 1_000_000,
            "ws_frame_burst": 1 <= self.ws_frame_burst <= 1_000_000,
            "ws_frame_flood": 1 <= self.ws_frame_flood <= 1000,
            "ws_max_frame": 1024 <= self.ws_max_frame <= 64 << 20,
            "ws_handshake_timeout": 0.1 <= self.ws_handshake_timeout <= 600,
            "ws_connections_per_user": 1 <= self.ws_connections_per_user <= 100_000,
            "recent_per_channel": 0 <= self.recent_per_channel <= 100_000,
            "recent_channels": 1 <= self.recent_channels <= 10_000_000,
            "bus_retention": 1 <= self.bus_retention <= 10_000_000,
            "bus_max_bytes": 1 << 20 <= self.bus_max_bytes <= 1 << 50,
            "bus_replicas": 1 <= self.bus_replicas <= 5,
            "redis_prefix": 0 < len(self.redis_prefix) <= 64,
            "presence_heartbeat": 0.05 <= self.presence_heartbeat <= 600,
            "apns": not self.apns_key_file
            or bool(self.apns_key_id and self.apns_team_id and self.apns_topic),
            "apns_url": self.apns_url.startswith("https://"),
            "fcm_url": self.fcm_url.startswith("https://"),
            "push_concurrency": 1 <= self.push_concurrency <= 100_000,
            "log_format": self.log_format in ("json", "text"),
            "pagerduty_url": self.pagerduty_url.startswith("https://"),
            "alert_interval": 0.05 <= self.alert_interval <= 3600,
            "alert_for_scale": 0 <= self.alert_for_scale <= 100,
            "log_level": self.log_level.upper() in ("DEBUG", "INFO", "WARNING", "ERROR"),
            "push_prefs_ttl": 0 <= self.push_prefs_ttl <= 3600,
            "push_attempts": 1 <= self.push_attempts <= 100,
            "push_retry_base": 0.01 <= self.push_retry_base <= 3600,
            "schedule_interval": 0.01 <= self.schedule_interval <= 60,
            "retention_interval": 0.01 <= self.retention_interval <= 86_400,
            "breaker": self.breaker_policy().valid(),
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(f"invalid setting(s): {', '.join(bad)}")
        if self.shard_urls or self.directory_url or self.shard_replicas:
            topology(self.shard_urls, self.directory_url, self.shard_replicas)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``PARLEY_<NAME>`` variables, then ``overrides`` (``None`` = unset)."""
        env = os.environ if environ is None else environ
        shards = env.get("PARLEY_SHARDS")
        if shards is not None and "://" in shards:  # URLs: MySQL shards, not a count
            env = {k: v for k, v in env.items() if k != "PARLEY_SHARDS"}
            env["PARLEY_SHARD_URLS"] = shards
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"PARLEY_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _convert(f.name, f.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"])
        return cls(**values)

    def breaker_policy(self) -> Policy:
        """The circuit breakers' policy these settings give."""
        return Policy(
            error_rate=self.breaker_error_rate,
            window=self.breaker_window,
            min_calls=self.breaker_min_calls,
            open_seconds=self.breaker_open_seconds,
            close_after=self.breaker_close_after,
            probes=max(self.breaker_close_after, 1),
        )

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _convert(name: str, type_name: Any, raw: str) -> Any:
    kind = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", "")
    try:
        if kind == "bool":
            if raw.strip().lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                raise ValueError(raw)
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw)
        if kind.startswith("tuple"):  # comma-separated; entries kept in place, even empty
            return tuple(s.strip() for s in raw.split(",")) if raw.strip() else ()
        return raw
    except ValueError as exc:
        raise ConfigError(f"PARLEY_{name.upper()}={raw!r} is not a valid {kind}") from exc
