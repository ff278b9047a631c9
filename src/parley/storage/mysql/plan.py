"""What a batch of writes to one shard does, computed without I/O.

The shard's writer (:mod:`.writer`) loads, with row locks, everything a batch can touch
(:func:`needs`, :func:`followups`): the channels' tails (last ``seq`` and ``ts``), the
messages named by ``client_msg_id``, and the messages edited, deleted, reacted to or
replied to, with their reactions. :func:`plan` then runs the ops one after the other,
in queue order, against that snapshot, exactly as the SQLite writer runs them against
its file: each op sees the effects of the ops before it, and an op that refuses
(:class:`~parley.errors.ApiError`) has no effect at all, so it fails alone. What is left
to write is the difference between the snapshot and the final state: new messages,
changed messages, tails, reactions added and removed (:class:`Plan`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from parley import content
from parley.errors import ApiError, Code
from parley.ids import next_channel_ts
from parley.storage.models import (
    CHANNEL_NOTICES,
    Message,
    PostRequest,
    PostResult,
    Reaction,
    ReactionChange,
)

#: ``(channel, ts)``: a message's address.
Key = tuple[str, int]
#: ``(name, user, added)``: one person's reaction.
Mark = tuple[str, str, int]


class Post(msgspec.Struct, frozen=True):
    req: PostRequest


class Update(msgspec.Struct, frozen=True):
    channel: str
    ts: int
    user: str
    text: str
    expected_version: int | None
    rich_patch: str | None = None
    #: False: a change the server makes (link previews); ``edited`` stays as it was
    edited: bool = True


class Delete(msgspec.Struct, frozen=True):
    channel: str
    ts: int
    user: str


class React(msgspec.Struct, frozen=True):
    channel: str
    ts: int
    user: str
    name: str
    add: bool


Op = Post | Update | Delete | React


@dataclass(frozen=True)
class Needs:
    """What to load before planning: tails to lock, ``(channel, user, client_msg_id)``
    to look up, messages to lock (with their reactions)."""

    channels: tuple[str, ...]
    client_ids: tuple[tuple[str, str, str], ...]
    keys: tuple[Key, ...]


def needs(ops: Sequence[Op]) -> Needs:
    """Everything ``ops`` read, sorted so every node takes row locks in the same order."""
    channels: set[str] = set()
    client_ids: set[tuple[str, str, str]] = set()
    keys: set[Key] = set()
    for op in ops:
        if isinstance(op, Post):
            r = op.req
            channels.add(r.channel)
            if r.client_msg_id is not None:
                client_ids.add((r.channel, r.user, r.client_msg_id))
            if r.thread_ts is not None:
                keys.add((r.channel, r.thread_ts))
        else:
            keys.add((op.channel, op.ts))
    return Needs(tuple(sorted(channels)), tuple(sorted(client_ids)), tuple(sorted(keys)))


def followups(ops: Sequence[Op], messages: dict[Key, Message]) -> tuple[Key, ...]:
    """Messages known only once the first ones are loaded: the thread parent of a reply's
    parent (a reply to a reply joins the parent's thread) and of a deleted reply (whose
    ``reply_count`` drops)."""
    more: set[Key] = set()
    for op in ops:
        if isinstance(op, Post) and op.req.thread_ts is not None:
            key = (op.req.channel, op.req.thread_ts)
        elif isinstance(op, Delete):
            key = (op.channel, op.ts)
        else:
            continue
        m = messages.get(key)
        if m is not None and m.thread_ts is not None:
            more.add((m.channel, m.thread_ts))
    return tuple(sorted(k for k in more if k not in messages))


@dataclass
class Loaded:
    """The locked snapshot a batch plans against. ``messages`` holds rows as stored,
    deleted ones too; ``reactions`` each loaded message's marks in display order."""

    tails: dict[str, tuple[int, int]] = field(default_factory=dict)
    client_ids: dict[tuple[str, str, str], Message] = field(default_factory=dict)
    messages: dict[Key, Message] = field(default_factory=dict)
    reactions: dict[Key, list[Mark]] = field(default_factory=dict)


@dataclass
class Plan:
    """Each op's outcome ``(ok, value)`` in queue order, and the rows to write."""

    results: list[tuple[bool, Any]]
    inserts: list[Message]
    rewrites: list[Message]
    tails: dict[str, tuple[int, int]]
    reactions_added: list[tuple[str, int, str, str, int]]
    reactions_removed: list[tuple[str, int, str, str]]

    @property
    def writes(self) -> bool:
        return bool(
            self.inserts
            or self.rewrites
            or self.tails
            or self.reactions_added
            or self.reactions_removed
        )


def reactions_of(marks: Iterable[Mark]) -> tuple[Reaction, ...]:
    """Marks grouped by name, in the order of first use (then name, then user), as the
    SQLite backend shows them."""
    grouped: dict[str, list[str]] = {}
    for name, user, _added in sorted(marks, key=lambda m: (m[2], m[0], m[1])):
        grouped.setdefault(name, []).append(user)
    return tuple(Reaction(n, tuple(u)) for n, u in grouped.items())


class _Batch:
    def __init__(self, loaded: Loaded, clock_us: Callable[[], int]) -> None:
        self.clock_us = clock_us
        self.before = loaded
        self.messages = dict(loaded.messages)
        self.marks = {k: list(v) for k, v in loaded.reactions.items()}
        self.client_ids = dict(loaded.client_ids)
        self.tails = dict(loaded.tails)
        self.new: dict[Key, None] = {}
        self.changed: dict[Key, None] = {}
        self.new_tails: dict[str, tuple[int, int]] = {}

    def live(self, channel: str, ts: int) -> Message | None:
        m = self.messages.get((channel, ts))
        return m if m is not None and not m.deleted else None

    def shown(self, m: Message) -> Message:
        """``m`` with its reactions as they are now."""
        marks = self.marks.get((m.channel, m.ts), ())
        return msgspec.structs.replace(m, reactions=reactions_of(marks))

    def put(self, m: Message) -> None:
        key = (m.channel, m.ts)
        self.messages[key] = m
        if key not in self.new:
            self.changed[key] = None

    def own(self, channel: str, ts: int, user: str, not_yours: Code) -> Message:
        m = self.live(channel, ts)
        if m is None:
            raise ApiError(Code.MESSAGE_NOT_FOUND)
        if m.user != user or m.subtype in CHANNEL_NOTICES:  # the server's, not theirs
            raise ApiError(not_yours)
        return m

    # -- one method per op; each raises before it changes anything -------------------------

    def post(self, op: Post) -> PostResult:
        req = op.req
        if req.client_msg_id is not None:
            original = self.client_ids.get((req.channel, req.user, req.client_msg_id))
            if original is not None:
                return PostResult(original, duplicate=True)
        parent = None
        thread_ts = req.thread_ts
        if thread_ts is not None:
            parent = self.live(req.channel, thread_ts)
            if parent is not None and parent.thread_ts is not None:
                thread_ts = parent.thread_ts  # a reply to a reply joins the parent's thread
                parent = self.live(req.channel, thread_ts)
            if parent is None:
                raise ApiError(Code.THREAD_NOT_FOUND)
        last_seq, last_ts = self.tails.get(req.channel, (0, 0))
        seq, ts = last_seq + 1, next_channel_ts(self.clock_us(), last_ts)
        msg = req.message(seq, ts, thread_ts)
        self.tails[req.channel] = self.new_tails[req.channel] = (seq, ts)
        self.new[(req.channel, ts)] = None
        self.messages[(req.channel, ts)] = msg
        if req.client_msg_id is not None:
            self.client_ids[(req.channel, req.user, req.client_msg_id)] = msg
        if parent is not None:
            users = parent.reply_users
            parent = msgspec.structs.replace(
                parent,
                reply_count=parent.reply_count + 1,
                latest_reply=ts,
                reply_users=users if req.user in users else (*users, req.user),
            )
            self.put(parent)
            parent = self.shown(parent)
        return PostResult(msg, parent=parent)

    def update(self, op: Update) -> Message:
        m = self.own(op.channel, op.ts, op.user, Code.CANT_UPDATE_MESSAGE)
        if op.expected_version is not None and op.expected_version != m.version:
            raise ApiError(Code.EDIT_CONFLICT, data={"version": m.version})
        rich = content.merge(m.rich, op.rich_patch)
        m = msgspec.structs.replace(
            m,
            text=op.text,
            version=m.version + 1,
            edited_ts=self.clock_us() if op.edited else m.edited_ts,
            edited_by=op.user if op.edited else m.edited_by,
            rich=rich,
        )
        self.put(m)
        return self.shown(m)

    def delete(self, op: Delete) -> Message:
        m = self.own(op.channel, op.ts, op.user, Code.CANT_DELETE_MESSAGE)
        self.put(
            msgspec.structs.replace(
                m,
                deleted=True,
                text="",
                rich=None,
                version=m.version + 1,
                edited_ts=self.clock_us(),
            )
        )
        self.marks[(op.channel, op.ts)] = []
        if m.thread_ts is not None:
            parent = self.messages.get((op.channel, m.thread_ts))
            if parent is not None:
                self.put(
                    msgspec.structs.replace(parent, reply_count=max(parent.reply_count - 1, 0))
                )
        return m

    def react(self, op: React) -> ReactionChange:
        m = self.live(op.channel, op.ts)
        if m is None:
            raise ApiError(Code.MESSAGE_NOT_FOUND)
        key = (op.channel, op.ts)
        marks = self.marks.get(key, [])
        present = [mk for mk in marks if mk[0] == op.name and mk[1] == op.user]
        now = self.clock_us()
        if op.add:
            if present:
                raise ApiError(Code.ALREADY_REACTED)
            self.marks[key] = [*marks, (op.name, op.user, now)]
        else:
            if not present:
                raise ApiError(Code.NO_REACTION)
            self.marks[key] = [mk for mk in marks if mk not in present]
        return ReactionChange(self.shown(m), op.name, op.user, op.add, now)

    def finish(self, results: list[tuple[bool, Any]]) -> Plan:
        added: list[tuple[str, int, str, str, int]] = []
        removed: list[tuple[str, int, str, str]] = []
        for key, marks in self.marks.items():
            before = {(n, u): a for n, u, a in self.before.reactions.get(key, ())}
            after = {(n, u): a for n, u, a in marks}
            added += [(*key, n, u, a) for (n, u), a in after.items() if (n, u) not in before]
            removed += [(*key, n, u) for (n, u) in before if (n, u) not in after]
        return Plan(
            results=results,
            inserts=[self.messages[k] for k in self.new],
            rewrites=[self.messages[k] for k in self.changed],
            tails=self.new_tails,
            reactions_added=added,
            reactions_removed=removed,
        )


def plan(ops: Sequence[Op], loaded: Loaded, clock_us: Callable[[], int]) -> Plan:
    """Runs ``ops`` in order against ``loaded``; see the module docstring."""
    batch = _Batch(loaded, clock_us)
    results: list[tuple[bool, Any]] = []
    for op in ops:
        try:
            if isinstance(op, Post):
                results.append((True, batch.post(op)))
            elif isinstance(op, Update):
                results.append((True, batch.update(op)))
            elif isinstance(op, Delete):
                results.append((True, batch.delete(op)))
            else:
                results.append((True, batch.react(op)))
        except ApiError as exc:
            results.append((False, exc))
    return batch.finish(results)
