"""The write path: posting, editing, deleting and reacting, stage by stage.

Side effects happen only after the durable write, in commit order: the store calls
:meth:`Sender._after_post` (and friends) on the event loop once the transaction has
committed and before the caller's await returns, so the recent-message buffer and the
bus see a channel's messages in ``seq`` order and never see an uncommitted one.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter

from parley import content
from parley.bus.interface import EventBus
from parley.cache.recent import RecentMessages
from parley.errors import ApiError, Code
from parley.ids import Snowflake, wall_us
from parley.logs import REQUEST_ID
from parley.metrics import Metrics
from parley.pipeline import events
from parley.pipeline.access import ChannelAccess
from parley.pipeline.limits import Limiter
from parley.storage.interface import MessageStore
from parley.storage.models import (
    Channel,
    Message,
    PostRequest,
    PostResult,
    ReactionChange,
    User,
)
from parley.unfurl.links import Want

#: ``(message as stored, what its poster wants previewed) -> None``, called once a post
#: or an edit that asks for link previews is stored (:meth:`Sender.on_stored`).
Stored = Callable[[Message, Want], None]
#: How many times :meth:`Sender.rewrite` tries, each after another write came first.
_REWRITES = 5


class Sender:
    def __init__(
        self,
        *,
        access: ChannelAccess,
        limiter: Limiter,
        ids: Snowflake,
        store: MessageStore,
        recent: RecentMessages,
        bus: EventBus,
        max_text: int,
        clock_us: Callable[[], int] = wall_us,
        metrics: Metrics | None = None,
    ) -> None:
        self._access = access
        self._limiter = limiter
        self._ids = ids
        self._store = store
        self._recent = recent
        self._bus = bus
        self._max_text = max_text
        self._clock_us = clock_us
        self._metrics = metrics or Metrics()
        self._stored: Stored | None = None
        #: Request ids of the posts being written, by message id (``parley.logs``).
        self._rids: dict[int, str] = {}
        stage = self._metrics.stage
        self._t_access, self._t_limits = stage["access"], stage["rate_limit"]
        self._t_write, self._t_publish = stage["write"], stage["publish"]

    def on_stored(self, stored: Stored) -> None:
        """Has ``stored`` called with each post or edit stored whose caller passed
        ``unfurl`` (the link previewer, :class:`parley.unfurl.service.Unfurler`), after
        its event is published and before the caller is answered."""
        self._stored = stored

    def _check_text(self, text: str | None, rich: str | None = None) -> str:
        """The text to store: required unless the message has blocks or attachments (then
        it is their fallback and may be empty), at most ``max_text`` characters."""
        if text is None or not text.strip():
            if content.has_content(rich):
                return text or ""
            raise ApiError(Code.NO_TEXT)
        if len(text) > self._max_text:
            raise ApiError(Code.MSG_TOO_LONG)
        return text

    async def post(
        self,
        user: User,
        channel_id: str | None,
        text: str | None,
        *,
        thread_ts: int | None = None,
        reply_broadcast: bool = False,
        client_msg_id: str | None = None,
        rich: str | None = None,
        unfurl: Want | None = None,
    ) -> PostResult:
        """``chat.postMessage`` and the WebSocket send: one path, one set of checks.
        ``rich``: validated blocks and attachments (:mod:`parley.content`); ``unfurl``:
        the links to preview (:meth:`on_stored`). Returns once the message is durable
        and its event published. What :meth:`prepare_post` then :meth:`write_post` do,
        in one coroutine (the common case costs a step less)."""
        began = perf_counter()
        channel = await self._access.writable(user, channel_id)
        text = self._check_text(text, rich)
        checked = perf_counter()
        await self._limiter.check_message(user, channel)
        allowed = perf_counter()
        self._t_access.observe(checked - began)
        self._t_limits.observe(allowed - checked)
        req = self._request(user, channel, text, thread_ts, reply_broadcast, client_msg_id, rich)
        self._track(req)
        try:
            result = await self._store.post(req, after_commit=self._after_post)
        finally:
            self._rids.pop(req.id, None)
        self._t_write.observe(perf_counter() - allowed)
        if unfurl is not None and self._stored is not None and not result.duplicate:
            self._stored(result.message, unfurl)
        return result

    async def prepare_post(
        self,
        user: User,
        channel_id: str | None,
        text: str | None,
        *,
        thread_ts: int | None = None,
        reply_broadcast: bool = False,
        client_msg_id: str | None = None,
        rich: str | None = None,
    ) -> PostRequest:
        """:meth:`post`'s checks (raising :class:`ApiError` for the first that fails) and
        the request they allow, with its id; nothing is written (:meth:`write_post`)."""
        began = perf_counter()
        channel = await self._access.writable(user, channel_id)
        text = self._check_text(text, rich)
        checked = perf_counter()
        await self._limiter.check_message(user, channel)
        self._t_access.observe(checked - began)
        self._t_limits.observe(perf_counter() - checked)
        return self._request(user, channel, text, thread_ts, reply_broadcast, client_msg_id, rich)

    async def write_post(self, req: PostRequest, unfurl: Want | None = None) -> PostResult:
        """Writes a post :meth:`prepare_post` allowed; returns once it is durable and its
        event published, as :meth:`post` does.

        The write is queued before the coroutine first suspends
        (:meth:`.MessageStore.post`), so writes whose coroutines start in order get a
        channel's ``seq`` in that order: a client may have several in flight (each in a
        task of its own, made in the order its posts were prepared) and still have them
        stored in the order it sent them."""
        began = perf_counter()
        self._track(req)
        try:
            result = await self._store.post(req, after_commit=self._after_post)
        finally:
            self._rids.pop(req.id, None)
        self._t_write.observe(perf_counter() - began)
        if unfurl is not None and self._stored is not None and not result.duplicate:
            self._stored(result.message, unfurl)
        return result

    def _request(
        self,
        user: User,
        channel: Channel,
        text: str,
        thread_ts: int | None,
        reply_broadcast: bool,
        client_msg_id: str | None,
        rich: str | None,
        subtype: str | None = None,
    ) -> PostRequest:
        """The request a post's passed checks allow, with a new id."""
        return PostRequest(
            id=self._ids.next(),
            channel=channel.id,
            team=channel.team_id,
            user=user.id,
            bot_id=user.bot_id,
            text=text,
            thread_ts=thread_ts,
            reply_broadcast=reply_broadcast,
            client_msg_id=client_msg_id,
            rich=rich,
            subtype=subtype,
        )

    def _track(self, req: PostRequest) -> None:
        """Keeps the request id of the post being written for the event it becomes
        (popped by :meth:`_after_post` once committed, or when the write fails)."""
        rid = REQUEST_ID.get()
        if rid:
            self._rids[req.id] = rid

    def _after_post(self, result: PostResult) -> None:
        if result.duplicate:
            return
        began = perf_counter()
        rid = self._rids.pop(result.message.id, "")
        event = events.message_posted(result.message, rid)
        self._recent.append(event)
        self._bus.publish(event)
        if result.parent is not None:
            self._recent.replace(events.message_posted(result.parent))
            self._bus.publish(events.message_changed(result.parent))
        self._metrics.accepted.inc()
        self._t_publish.observe(perf_counter() - began)

    async def announce(self, user: User, channel: Channel, subtype: str, text: str) -> Message:
        """Writes the message that tells a channel what ``user`` changed about it
        (``subtype`` ``channel_topic``, ``channel_purpose``, ``channel_name``), through
        the same durable write and after-commit publish as a post: it takes its ``seq``,
        is in the history and reaches the members in order. The caller has checked that
        ``user`` may make the change; the text is the server's, so it is not checked."""
        req = self._request(user, channel, text, None, False, None, None, subtype)
        return (await self.write_post(req)).message

    async def ephemeral(
        self,
        user: User,
        channel_id: str | None,
        to_user: str | None,
        text: str | None,
        *,
        thread_ts: int | None = None,
        rich: str | None = None,
    ) -> int:
        """``chat.postEphemeral``: a message only ``to_user`` sees, on the connections
        they have open now; nothing is stored, so it is not in the history, a resume or
        a push. The sender must be able to post in the channel (:meth:`post`'s checks
        and rate limit) and ``to_user`` must be a member (``user_not_in_channel``,
        also for an id that names nobody). Returns its ``ts``."""
        channel = await self._access.writable(user, channel_id)
        text = self._check_text(text, rich)
        await self._limiter.check_message(user, channel)
        if not to_user or to_user not in await self._access.members(channel.id):
            raise ApiError(Code.USER_NOT_IN_CHANNEL)
        at = self._clock_us()
        self._bus.publish(
            events.ephemeral(channel, to_user, user, text, at, thread_ts=thread_ts, rich=rich)
        )
        return at

    async def command_reply(
        self,
        bot: User,
        user: User,
        channel_id: str,
        text: str | None,
        *,
        rich: str | None = None,
        in_channel: bool = False,
    ) -> int:
        """A slash command's reply from ``bot``'s app to ``user``, who ran it in
        ``channel_id``: ephemeral (only ``user`` sees it, as :meth:`ephemeral`) or
        ``in_channel`` (a post by ``bot``, durable as any, where ``bot`` need not be a
        member). Checked against the channel as ``user`` may post in it now, and the
        bot's rate limit. Returns its ``ts``."""
        channel = await self._access.writable(user, channel_id)
        text = self._check_text(text, rich)
        await self._limiter.check_message(bot, channel)
        if in_channel:
            req = self._request(bot, channel, text, None, False, None, rich)
            return (await self.write_post(req)).message.ts
        at = self._clock_us()
        self._bus.publish(events.ephemeral(channel, user.id, bot, text, at, rich=rich))
        return at

    async def update(
        self,
        user: User,
        channel_id: str | None,
        ts: int,
        text: str | None,
        expected_version: int | None,
        *,
        rich_patch: str | None = None,
        unfurl: Want | None = None,
    ) -> Message:
        """``chat.update``; ``rich_patch`` replaces the blocks or attachments it names;
        ``unfurl``: the links to preview once changed (:meth:`on_stored`)."""
        channel = await self._access.writable(user, channel_id)
        text = self._check_text(text, rich_patch)
        m = await self._store.update(
            channel.id,
            ts,
            user.id,
            text,
            expected_version,
            after_commit=self._after_update,
            rich_patch=rich_patch,
        )
        if unfurl is not None and self._stored is not None:
            self._stored(m, unfurl)
        return m

    async def rewrite(self, m: Message, change_of: Callable[[Message], str | None]) -> Message:
        """Writes what the server or an app adds to ``m``, its link previews and unfurls:
        ``change_of(message as it is)`` gives the content change (its attachments, in
        :func:`parley.content.patch`'s form; ``None``: nothing to write). The author's
        text stays and it is not marked edited; its members hear ``message_changed`` as
        for an edit. Tried on ``m`` as given, and when another write came first, on the
        message as it then is (a few times; then ``edit_conflict``). Returns the message
        as it is now; ``message_not_found`` when it was deleted."""

        def grown(now: Message) -> tuple[str, str] | None:
            change = change_of(now)
            return None if change is None else (now.text, change)

        return await self.grow(m, grown)

    async def grow(
        self, m: Message, change_of: Callable[[Message], tuple[str, str | None] | None]
    ) -> Message:
        """As :meth:`rewrite`, for a change of the text too (a streamed message as it
        grows, :mod:`parley.streams`): ``change_of(message as it is)`` gives its new
        text and content change, or ``None`` for nothing to write; it may raise an
        ``ApiError``, which is the answer. Not marked edited."""
        current = m
        for _ in range(_REWRITES):
            change = change_of(current)
            if change is None:
                return current
            text, rich_patch = change
            try:
                return await self._store.update(
                    current.channel,
                    current.ts,
                    current.user,
                    text,
                    current.version,
                    after_commit=self._after_update,
                    rich_patch=rich_patch,
                    edited=False,
                )
            except ApiError as exc:
                if exc.code != Code.EDIT_CONFLICT:
                    raise
            found = await self._store.message(m.channel, m.ts)
            if found is None or found.deleted:
                raise ApiError(Code.MESSAGE_NOT_FOUND)
            current = found
        raise ApiError(Code.EDIT_CONFLICT)

    def _after_update(self, message: Message) -> None:
        self._recent.replace(events.message_posted(message))
        self._bus.publish(events.message_changed(message))

    async def delete(self, user: User, channel_id: str | None, ts: int) -> Message:
        channel = await self._access.writable(user, channel_id)
        return await self._store.delete(channel.id, ts, user.id, after_commit=self._after_delete)

    def _after_delete(self, message: Message) -> None:
        event = events.message_deleted(message, self._clock_us())
        self._recent.replace(event)
        self._bus.publish(event)

    async def react(
        self, user: User, channel_id: str | None, ts: int, name: str, add: bool
    ) -> ReactionChange:
        channel = await self._access.visible(user, channel_id)
        if channel.is_archived:
            raise ApiError(Code.IS_ARCHIVED)
        return await self._store.react(
            channel.id, ts, user.id, name, add, after_commit=self._after_react
        )

    def _after_react(self, change: ReactionChange) -> None:
        self._recent.replace(events.message_posted(change.message))
        self._bus.publish(events.reaction(change))
