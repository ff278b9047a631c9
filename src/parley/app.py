"""The composition root: builds every part from the settings, wires them, starts and
stops them in order. The only place that chooses backends."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as redis

from parley.alerts import AlertWatcher, PagerDuty
from parley.api import methods
from parley.api.dispatch import Api
from parley.api.methods.ims import Ims
from parley.apps.actions import Actions
from parley.apps.commands import AppReach, Commands
from parley.apps.events import GROUP as EVENTS_GROUP
from parley.apps.events import EventsWorker
from parley.apps.installs import Installs
from parley.apps.link import AppLink
from parley.apps.link_sharing import AppLinks
from parley.apps.replies import Replies
from parley.apps.shortcuts import Shortcuts
from parley.apps.signing import SigningKey
from parley.apps.triggers import Triggers
from parley.apps.views import Views, route_acknowledgements
from parley.bus.interface import EventBus
from parley.bus.jetstream import JetStreamBus
from parley.bus.memory import InProcessBus
from parley.cache.evictions import Evictions, LocalEvictions
from parley.cache.recent import RecentBuffer, RecentMessages
from parley.cache.redis_claims import RedisClaims, RedisFirstUse
from parley.cache.redis_client import connect as redis_connect
from parley.cache.redis_evictions import RedisEvictions
from parley.cache.redis_leases import RedisLeases
from parley.cache.redis_presence import RedisPresence, node_id
from parley.cache.redis_rates import RedisRateStore
from parley.cache.redis_recent import RedisRecentBuffer
from parley.cache.redis_tickets import RedisTicketBook
from parley.cache.resp import RespLink
from parley.config import Settings
from parley.custom_emoji import CustomEmojis
from parley.custom_emoji import fetch as fetch_image
from parley.errors import ConfigError
from parley.files.service import Files
from parley.gateway.consumer import BusConsumer
from parley.gateway.hub import Hub
from parley.gateway.presence import LocalPresence, Presence, announcer
from parley.gateway.resume import Replayer
from parley.gateway.server import Gateway
from parley.gateway.tickets import TicketBook, Tickets
from parley.ids import Snowflake, wall_us
from parley.metrics import Metrics, Row, counter, gauge
from parley.notify.apns import ApnsProvider
from parley.notify.fcm import CredentialsError, FcmProvider, credentials
from parley.notify.providers import Provider
from parley.notify.pusher import GROUP as PUSH_GROUP
from parley.notify.pusher import Pusher
from parley.pipeline.access import ChannelAccess
from parley.pipeline.accounts import Accounts
from parley.pipeline.auth import Authenticator
from parley.pipeline.limits import Limits
from parley.pipeline.ratelimit import MemoryRateStore, RateStore
from parley.pipeline.reminders import Reminders
from parley.pipeline.schedule import Scheduler
from parley.pipeline.send import Sender
from parley.resilience.board import Breakers
from parley.resilience.counts import RetryCounts
from parley.resilience.retries import Backoff
from parley.retention import Retention
from parley.search.guarded import GuardedSearch
from parley.search.indexer import GROUP as INDEX_GROUP
from parley.search.indexer import Indexer
from parley.search.interface import SearchIndex
from parley.search.service import Searcher
from parley.storage.guarded import GuardedStore
from parley.storage.interface import Directory, MessageStore
from parley.storage.sqlite.directory import SqliteDirectory
from parley.storage.sqlite.messages import SqliteMessageStore
from parley.storage.sqlite.search import SqliteSearch
from parley.unfurl.fetch import Fetcher
from parley.unfurl.service import Unfurler
from parley.web import Sessions, emoji_names
from parley.worker.ownership import Ownership
from parley.worker.republish import GROUP, Republisher


@dataclass
class Services:
    settings: Settings
    directory: Directory
    store: MessageStore
    bus: EventBus
    recent: RecentMessages
    ids: Snowflake
    auth: Authenticator
    access: ChannelAccess
    sender: Sender
    api: Api
    tickets: Tickets
    hub: Hub
    gateway: Gateway
    consumer: BusConsumer
    gateway_port: int = 0
    #: What else to close last (shared backends such as Redis).
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    #: Who is connected where; closed right after the gateway, while the bus still
    #: carries the ``away`` it announces.
    presence: Presence | None = None
    #: The republishing worker (``--role worker``); closed before the bus.
    republisher: Republisher | None = None
    #: The search engine, ``search.messages`` over it, and the indexing worker
    #: (``--role all`` and ``worker``; closed before the bus).
    search_index: SearchIndex | None = None
    searcher: Searcher | None = None
    indexer: Indexer | None = None
    #: The push worker (``--role all`` and ``worker``; closed before the bus).
    pusher: Pusher | None = None
    #: The Events API's HTTP deliveries to apps (``--role all`` and ``worker``).
    app_events: EventsWorker | None = None
    #: Prometheus metrics (``GET /metrics``).
    metrics: Metrics = field(default_factory=Metrics)
    #: The alert rules evaluated here, paging PagerDuty (with a routing key).
    alerts: AlertWatcher | None = None
    #: The node's circuit breakers, one per dependency instance.
    breakers: Breakers = field(default_factory=Breakers)
    #: Retries and dead letters waiting, per step (for ``/metrics``).
    retry_counts: RetryCounts | None = None
    #: Scheduled messages (``chat.scheduleMessage``); it posts what is due on nodes that
    #: run workers (``--role all`` and ``worker``; closed before the store).
    scheduler: Scheduler | None = None
    #: People's accounts deactivated, reactivated, signed out (``admin.users.*``,
    #: ``parley user``); workers apply the changes the command line made.
    accounts: Accounts | None = None
    #: Slash commands (``chat.command``), buttons pressed (``chat.action``), and the
    #: apps' replies to both (``response_url``, Socket Mode acknowledgements).
    commands: Commands | None = None
    actions: Actions | None = None
    replies: Replies | None = None
    #: Apps' shortcuts (``chat.shortcut``, :mod:`parley.apps.shortcuts`).
    shortcuts: Shortcuts | None = None
    #: Files: uploads, shares and downloads (``files.*``, :mod:`parley.files`).
    files: Files | None = None
    #: Apps' modals (``views.*``, :mod:`parley.apps.views`).
    views: Views | None = None
    #: People's reminders (``reminders.*``); delivered by nodes that run workers.
    reminders: Reminders | None = None
    #: Message retention; sweeps on nodes that run workers (closed before the store).
    retention: Retention | None = None
    #: The workspaces' own emoji (``emoji.list``, ``admin.emoji.*``).
    custom_emoji: CustomEmojis | None = None
    #: Link previews of posts and edits made through this node (``PARLEY_UNFURL``) and
    #: apps' unfurls, and the guarded client that fetches previews and, for the web
    #: client, other sites' images (``None`` with ``PARLEY_UNFURL=0``).
    unfurler: Unfurler | None = None
    link_fetcher: Fetcher | None = None
    #: Apps' unfurls of the links on their domains (``chat.unfurl``).
    app_links: AppLinks | None = None
    #: The rate limits (``/files/proxy``'s too).
    limits: Limits | None = None
    #: The web client's sign-in sessions (the consent page signs in with them too).
    sessions: Sessions | None = None
    #: Apps installed with OAuth: the consent page and ``oauth.v2.access``.
    installs: Installs | None = None

    def readiness(self) -> tuple[str | None, dict[str, str]]:
        """Why this node cannot serve (``None``: it can) and its breakers' states. It
        cannot when every store shard's breaker is open; one shard down leaves the
        others' channels served here as on every node."""
        reason = "store_unavailable" if self.breakers.all_open("shard:") else None
        return reason, self.breakers.states()

    async def close(self) -> None:
        """Says goodbye to WebSocket clients, stops consuming, finishes the writes queued,
        then closes files (store, then directory)."""
        if self.alerts is not None:
            await self.alerts.close()
        if self.retry_counts is not None:
            await self.retry_counts.close()
        await self.gateway.close(self.settings.drain_seconds)
        if self.presence is not None:
            await self.presence.close()
        await self.consumer.close()
        if self.republisher is not None:
            await self.republisher.close()
        if self.indexer is not None:
            await self.indexer.close()
        if self.pusher is not None:
            await self.pusher.close()
        if self.app_events is not None:
            await self.app_events.close()
        if self.scheduler is not None:
            await self.scheduler.close()
        if self.accounts is not None:
            await self.accounts.close()
        if self.reminders is not None:
            await self.reminders.close()
        if self.retention is not None:
            await self.retention.close()
        if self.search_index is not None:
            await self.search_index.close()
        if self.unfurler is not None:
            await self.unfurler.close()
        await self.store.close()
        await self.bus.close()
        await self.directory.close()
        for close in self.closers:
            await close()


async def start(settings: Settings) -> Services:
    """Opens (creating and migrating as needed) the data dir and starts every part the
    node's role serves."""
    check_role(settings)
    # first: key files that cannot be read fail start-up before anything opens
    providers = open_providers(settings) if settings.role in ("all", "worker") else {}
    closers: list[Callable[[], Awaitable[None]]] = []
    breakers = Breakers(settings.breaker_policy())
    rates: RateStore = MemoryRateStore()
    if settings.redis_url:  # first: an unreachable Redis fails start-up before any file opens
        rates = RedisRateStore(settings.redis_url, breakers=breakers)
        await rates.start()
        closers.append(rates.close)
    directory, raw_store = await open_storage(settings)
    store = GuardedStore(raw_store, breakers)
    bus: EventBus = InProcessBus(settings.partitions, settings.bus_retention)
    if settings.bus_url:
        bus = JetStreamBus(
            settings.bus_url,
            settings.partitions,
            name=settings.bus_stream,
            max_age=settings.bus_max_age,
            max_bytes=settings.bus_max_bytes,
            replicas=settings.bus_replicas,
            breakers=breakers,
        )
    await bus.start()
    metrics = Metrics()
    tickets, recent, evictions, presence, redis_client = await _shared(
        settings, store.last_seq, bus, closers, breakers
    )
    ids = Snowflake(settings.worker_id)
    auth = Authenticator(directory, settings.token_cache_ttl, evictions=evictions)
    access = ChannelAccess(directory, settings.membership_cache_ttl, evictions=evictions)
    limits = Limits(
        rates,
        message_rate=settings.message_rate,
        message_burst=settings.message_burst,
        bot_channel_rate=settings.bot_channel_rate,
        api_calls_per_minute=settings.api_calls_per_minute,
    )
    sender = Sender(
        access=access,
        limiter=limits,
        ids=ids,
        store=store,
        recent=recent,
        bus=bus,
        max_text=settings.max_text,
        metrics=metrics,
    )
    api = Api(auth, limits, metrics)
    app_links = AppLinks(directory, store, access.members, bus.publish, sender.rewrite)
    # apps unfurl the links on their domains whether or not the server fetches previews
    fetcher = Fetcher(allow_private=settings.unfurl_private) if settings.unfurl else None
    unfurler = Unfurler(
        fetcher,
        sender.rewrite,
        close=fetcher.close if fetcher else None,
        share=app_links.share,
    )
    sender.on_stored(unfurler.submit)
    replies = Replies(directory, sender)
    app_link = AppLink(bus, presence)
    triggers = Triggers(
        directory,
        first_use=RedisFirstUse(redis_client, prefix=settings.redis_prefix)
        if redis_client is not None
        else None,
    )
    reach = AppReach(directory, access, limits, replies, app_link, triggers)
    commands = Commands(reach)
    actions = Actions(reach, store)
    views = Views(
        directory=directory, bus=bus, link=app_link, triggers=triggers, ids=ids, now_us=wall_us
    )
    hub = Hub()
    consumer = BusConsumer(
        bus,
        hub,
        store,
        group=f"gateway-{settings.worker_id}",
        reorder_window=settings.reorder_window,
        metrics=metrics,
    )
    gateway = Gateway(
        hub=hub,
        tickets=tickets,
        presence=presence,
        sender=sender,
        access=access,
        directory=directory,
        bus=bus,
        replayer=Replayer(recent, store),
        listen=consumer.listen,
        max_text=settings.max_text,
        heartbeat=settings.heartbeat,
        handshake_timeout=settings.ws_handshake_timeout,
        deflate=settings.ws_deflate,
        frame_rate=settings.ws_frame_rate,
        frame_burst=settings.ws_frame_burst,
        frame_flood=settings.ws_frame_flood,
        max_frame_size=settings.ws_max_frame,
        max_connections_per_user=settings.ws_connections_per_user,
        valid_token=auth.valid_key,
        write_thread=settings.ws_write_thread,
        write_threads=settings.ws_write_threads,
        request_reply=route_acknowledgements(replies.acknowledged, views),
        claim_request=(
            RedisClaims(
                redis_client, node=node_id(settings.worker_id), prefix=settings.redis_prefix
            ).claim
            if redis_client is not None
            else None
        ),
    )
    auth.on_revoked(gateway.revoked)
    svc = Services(
        settings,
        directory,
        store,
        bus,
        recent,
        ids,
        auth,
        access,
        sender,
        api,
        tickets,
        hub,
        gateway,
        consumer,
        closers=closers,
        presence=presence,
        metrics=metrics,
        breakers=breakers,
        commands=commands,
        actions=actions,
        replies=replies,
        shortcuts=Shortcuts(reach, store),
        files=Files(
            directory,
            access,
            sender,
            ids,
            max_file=settings.max_file,
            publish=bus.publish,
            message=store.message,
        ),
        custom_emoji=CustomEmojis(
            directory, bus, frozenset(emoji_names.standard()), fetch_image, wall_us
        ),
        views=views,
        unfurler=unfurler,
        app_links=app_links,
        limits=limits,
        link_fetcher=fetcher,
    )
    closers.append(app_link.close)
    metrics.gauges.add(lambda: _node_rows(hub, bus))
    metrics.gauges.add(breakers.metric_rows)
    metrics.gauges.add(raw_store.metric_rows)
    svc.scheduler = Scheduler(
        directory,  # type: ignore[arg-type]
        directory,
        sender,
        clock_us=wall_us,
        interval=settings.schedule_interval,
    )
    svc.accounts = Accounts(
        directory,
        directory,  # type: ignore[arg-type]
        auth,
        bus,
        clock_us=wall_us,
        interval=settings.schedule_interval,
    )
    svc.reminders = Reminders(
        directory,  # type: ignore[arg-type]
        directory,
        sender,
        Ims(directory, access, bus),
        ids,
        clock_us=wall_us,
        interval=settings.schedule_interval,
    )
    svc.retry_counts = RetryCounts(directory)  # type: ignore[arg-type]
    svc.retry_counts.start()
    metrics.gauges.add(svc.retry_counts.metric_rows)
    svc.search_index = GuardedSearch(await open_search(settings, raw_store), breakers)
    svc.searcher = Searcher(svc.search_index, store, directory)
    svc.retention = Retention(
        directory,
        store,
        svc.search_index,
        recent,
        svc.files.remove,
        clock_us=wall_us,
        interval=settings.retention_interval,
    )
    svc.sessions = Sessions(directory, auth, MemoryRateStore())
    secure = settings.secure_cookies
    svc.installs = Installs(
        directory,
        svc.sessions,
        wall_us,
        forget=auth.forget,
        publish=bus.publish,
        signing=SigningKey(directory),
        secure_cookies=secure,
    )
    methods.register_all(api, svc)
    if settings.role in ("all", "gateway"):
        consumer.start()
        svc.gateway_port = await gateway.start(settings.host, settings.gateway_port)

    def ownership(group: str) -> Ownership | None:
        """Several workers split the partitions (with Redis); alone, one reads them all."""
        if redis_client is None:
            return None
        leases = RedisLeases(redis_client, prefix=settings.redis_prefix)
        return Ownership(leases, group, settings.partitions)

    if settings.role == "worker":
        svc.republisher = Republisher(bus, store, ownership=ownership(GROUP))
        svc.republisher.start()
    if settings.role in ("all", "worker"):
        svc.scheduler.start()
        svc.accounts.start()
        svc.reminders.start()
        svc.app_events = EventsWorker(
            bus,
            directory,
            access.members,
            retries=directory,  # type: ignore[arg-type]
            breakers=breakers,
            ownership=ownership(EVENTS_GROUP),
        )
        svc.app_events.start()
        metrics.gauges.add(svc.app_events.metric_rows)
        svc.indexer = Indexer(
            bus,
            store,
            svc.search_index,
            ownership=ownership(INDEX_GROUP),
            retries=directory,  # type: ignore[arg-type]
        )
        svc.indexer.start()
        metrics.gauges.add(svc.indexer.metric_rows)
        svc.retention.start()
        metrics.gauges.add(svc.retention.metric_rows)
        if providers:  # no provider configured: nothing to push to
            svc.pusher = Pusher(
                bus,
                directory,
                store,
                presence,
                providers,
                concurrency=settings.push_concurrency,
                prefs_ttl=settings.push_prefs_ttl,
                members=access.members,
                ownership=ownership(PUSH_GROUP),
                backoff=Backoff(attempts=settings.push_attempts, base=settings.push_retry_base),
                breakers=breakers,
                metrics=metrics,
            )
            svc.pusher.start()
            metrics.gauges.add(svc.pusher.metric_rows)
    if settings.pagerduty_routing_key:
        svc.alerts = AlertWatcher(
            metrics.registry,
            pagerduty(settings),
            node_name(settings),
            interval=settings.alert_interval,
            for_scale=settings.alert_for_scale,
        )
        svc.alerts.start()
    return svc


def pagerduty(settings: Settings) -> PagerDuty:
    """The PagerDuty client the settings name."""
    verify: ssl.SSLContext | bool = True
    if settings.alerts_ca_file:
        verify = ssl.create_default_context(cafile=settings.alerts_ca_file)
    return PagerDuty(settings.pagerduty_routing_key, settings.pagerduty_url, verify)


def node_name(settings: Settings) -> str:
    """How alerts name this node: its role and worker id."""
    return f"{settings.role}-{settings.worker_id}"


def _node_rows(hub: Hub, bus: EventBus) -> list[Row]:
    return [
        gauge("parley_connections", "Open WebSocket connections here.", [((), len(hub))]),
        gauge(
            "parley_publish_queue",
            "Events committed here and not yet in the event log.",
            [((), bus.queued())],
        ),
        gauge(
            "parley_consumer_lag",
            "Events still to read after each reader's last read, per partition.",
            [((reader or "default", str(p)), n) for (reader, p), n in sorted(bus.lag().items())],
            ["reader", "partition"],
        ),
        counter(
            "parley_publish_retries",
            "Publishes to the event log that failed and were tried again (with backoff).",
            [((), bus.retried)],
        ),
        counter(
            "parley_publish_dropped",
            "Events given up before reaching the event log (subscribers read them from "
            "the store by seq).",
            [((), bus.dropped)],
        ),
        counter(
            "parley_bus_reopened",
            "Readers' cursors on the event log opened again after a gap, an error or "
            "silence (each goes on after its last event read).",
            [((), bus.reopened)],
        ),
    ]


def open_providers(settings: Settings) -> dict[str, Provider]:
    """The push providers configured (none by default); ConfigError when a key file
    cannot be read or is not one."""
    verify: ssl.SSLContext | bool = True
    providers: dict[str, Provider] = {}
    try:
        if settings.push_ca_file:
            verify = ssl.create_default_context(cafile=settings.push_ca_file)
        if settings.apns_key_file:
            providers["apns"] = ApnsProvider(
                key_pem=Path(settings.apns_key_file).read_bytes(),
                key_id=settings.apns_key_id,
                team_id=settings.apns_team_id,
                topic=settings.apns_topic,
                url=settings.apns_url,
                verify=verify,
            )
        if settings.fcm_credentials:
            account = credentials(Path(settings.fcm_credentials).read_bytes())
            providers["fcm"] = FcmProvider(account, url=settings.fcm_url, verify=verify)
    except (OSError, ssl.SSLError, CredentialsError) as exc:
        raise ConfigError(f"push providers: {exc}") from exc
    return providers


async def open_search(settings: Settings, store: MessageStore) -> SearchIndex:
    """The search engine of the store's backend: FTS5 files beside SQLite shards, or
    FULLTEXT tables in the MariaDB shards; started."""
    index: SearchIndex
    if settings.shard_urls:
        from parley.storage.mysql.search import MysqlSearch

        index = MysqlSearch(store)
    else:
        index = SqliteSearch(settings, store.shards)
    await index.start()
    return index


async def open_storage(
    settings: Settings, *, clock_us: Callable[[], int] = wall_us
) -> tuple[Directory, MessageStore]:
    """The MySQL shards of ``PARLEY_SHARDS`` when it names any, else the SQLite data dir;
    created and migrated as needed, their shard count checked against the recorded one.
    ``clock_us``: the store's clock (an import sets it to each message's time)."""
    if settings.shard_urls:
        from parley.storage.mysql.open import open_storage as open_mysql

        return await open_mysql(settings, clock_us=clock_us)
    directory = SqliteDirectory(settings)
    await directory.start()
    shards = await directory.shard_count(settings.shards)
    if shards != settings.shards and settings.shards != Settings().shards:
        await directory.close()
        raise ConfigError(
            f"{settings.data_dir} was created with {shards} shards; it cannot be opened with "
            f"{settings.shards} (changing the shard count would strand messages)"
        )
    store = SqliteMessageStore(settings, shards, clock_us=clock_us)
    try:
        await store.start()
    except BaseException:
        await directory.close()
        raise
    return directory, store


async def _shared(
    settings: Settings,
    last_seq: Callable[[str], Awaitable[int]],
    bus: EventBus,
    closers: list[Callable[[], Awaitable[None]]],
    breakers: Breakers,
) -> tuple[Tickets, RecentMessages, Evictions, Presence, redis.Redis | None]:
    """What the nodes of a fleet share: ``rtm.connect`` tickets, the recent-message
    buffer, cache evictions and presence. In this process without ``PARLEY_REDIS_URL``;
    in Redis with it (started here; their closers appended to ``closers``), and then the
    Redis client too, for the worker's partition leases. ``last_seq`` is the store's,
    which the Redis buffer checks its coverage against."""
    announce = announcer(bus)
    if not settings.redis_url:
        recent = RecentBuffer(
            settings.recent_per_channel, settings.recent_ttl, settings.recent_channels
        )
        local = LocalPresence(announce)
        return TicketBook(settings.ticket_ttl), recent, LocalEvictions(), local, None
    client = await redis_connect(settings.redis_url, breakers=breakers)
    link = RespLink(settings.redis_url, breakers=breakers)  # the recent buffer's writes
    prefix = settings.redis_prefix
    tickets = RedisTicketBook(client, settings.ticket_ttl, prefix=prefix)
    redis_recent = _redis_recent(settings, client, link, last_seq)
    evictions = RedisEvictions(client, prefix=prefix)
    presence = RedisPresence(
        client,
        announce,
        node=node_id(settings.worker_id),
        heartbeat=settings.presence_heartbeat,
        prefix=prefix,
    )
    try:
        await evictions.start()
        await presence.start()
    except Exception:
        await evictions.close()
        await client.aclose()
        raise
    redis_recent.start()
    closers.extend([redis_recent.close, link.close, evictions.close, client.aclose])
    return tickets, redis_recent, evictions, presence, client


async def open_recent(
    settings: Settings, last_seq: Callable[[str], Awaitable[int]]
) -> tuple[RecentMessages, Callable[[], Awaitable[None]]]:
    """The recent-message buffer alone, for a command beside the servers
    (``parley retention sweep``), and its closer: the fleet's in Redis with
    ``PARLEY_REDIS_URL`` (what it forgets, every node forgets), else an empty one (the
    embedded server's is in its process, which is stopped)."""
    if not settings.redis_url:
        return RecentBuffer(0, settings.recent_ttl), _nothing
    breakers = Breakers(settings.breaker_policy())
    client = await redis_connect(settings.redis_url, breakers=breakers)
    link = RespLink(settings.redis_url, breakers=breakers)
    recent = _redis_recent(settings, client, link, last_seq)
    recent.start()

    async def close() -> None:
        await recent.close()
        await link.close()
        await client.aclose()

    return recent, close


async def _nothing() -> None:
    return None


def _redis_recent(
    settings: Settings,
    client: redis.Redis,
    link: RespLink,
    last_seq: Callable[[str], Awaitable[int]],
) -> RedisRecentBuffer:
    """The fleet's recent-message buffer in Redis, as the settings size it."""
    return RedisRecentBuffer(
        client,
        link,
        per_channel=settings.recent_per_channel,
        ttl=settings.recent_ttl,
        last_seq=last_seq,
        prefix=settings.redis_prefix,
    )


def check_role(settings: Settings) -> None:
    """A node that is one of several must share what the others see: ConfigError else.

    ``api``, ``gateway`` and ``worker`` nodes exist to be run side by side, so they need the shared
    backends: the store (``PARLEY_SHARDS=mysql://...``: SQLite files belong to one
    process), the event log (``PARLEY_BUS_URL``: an API node publishes what a gateway
    delivers) and Redis (``PARLEY_REDIS_URL``: a ticket from ``rtm.connect`` on an API
    node is redeemed on a gateway). An ``api`` node also needs ``PARLEY_GATEWAY_URL``,
    the address it hands its clients for WebSockets.
    """
    if settings.role == "all":
        return
    missing = [
        name
        for name, value in (
            ("PARLEY_SHARDS", settings.shard_urls),
            ("PARLEY_BUS_URL", settings.bus_url),
            ("PARLEY_REDIS_URL", settings.redis_url),
        )
        if not value
    ]
    if settings.role == "api" and not settings.gateway_url:
        missing.append("PARLEY_GATEWAY_URL")
    if missing:
        raise ConfigError(f"--role {settings.role} needs {', '.join(missing)}")
