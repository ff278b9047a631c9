"""The rules of files: who may upload what, where it is shared, who may read it.

- **Announce** (``files.getUploadURLExternal``): a name (1-255 characters) and a length
  (1 to ``max_file`` bytes); the file gets an id (``F…``) and a single-use upload URL,
  whose secret only its hash is kept of. A user has at most :data:`MAX_WAITING` files
  announced and not completed (``too_many_uploads``); one not completed within a day
  is forgotten, content and all, when they next announce one.
- **Upload**: the bytes POSTed to that URL, exactly the length announced, once.
- **Complete** (``files.completeUploadExternal``): the uploader titles 1-10 of their
  uploaded files and shares them, optionally, into a channel they may post in: one
  message of theirs there (``initial_comment`` its text, perhaps in a thread) carries
  the files (subtype ``file_share``, as Slack's), through the same checks, rate limit
  and durable send path as any post.
  A file is completed once.
- **Read** (``files.info``, ``files.list``, the download): a file is readable by its
  uploader and by whoever may see a channel it is shared in; to anyone else it does not
  exist (``file_not_found``), whatever the private-channel boundary hides.
- **Delete** (``files.delete``): by its uploader; the content goes, and each message
  that shared it keeps it as Slack's tombstone (``{"id": …, "mode": "tombstone"}``; its
  members hear ``message_changed``, the message is not marked edited).
- **Public link** (``files.sharedPublicURL``, ``files.revokePublicURL``): its uploader
  may give a completed file a link (``permalink_public``) that serves its content to
  anyone, without a token, until they revoke it or delete the file.

Each file shared is told to the channel's connections and apps as Slack's
``file_shared`` (after the share's message), and a deletion as ``file_deleted`` in each
channel it was shared in.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import mimetypes
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
import orjson

from parley import content, wire
from parley.bus.interface import Event
from parley.errors import ApiError, Code
from parley.ids import Kind, Snowflake, decode_id, encode_id, wall_us
from parley.pipeline import events
from parley.pipeline.access import ChannelAccess
from parley.pipeline.send import Sender
from parley.storage.interface import Directory
from parley.storage.models import Channel, Message, StoredFile, User

log = logging.getLogger(__name__)

#: The longest file name kept.
MAX_NAME = 255
#: Files one ``files.completeUploadExternal`` completes at most (Slack's).
MAX_COMPLETE = 10
#: The subtype of a message that shares files (Slack's; Bolt's ``app.message`` hears it).
FILE_SHARE = "file_share"
#: The longest title kept.
MAX_TITLE = 1000
#: Microseconds an announced file waits to be uploaded and completed before it is
#: forgotten (at its uploader's next announcement).
STALE_US = 24 * 3600 * 1_000_000
#: Files a user may have announced and not completed at once.
MAX_WAITING = 100


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def mimetype_of(name: str) -> str:
    """The media type a file's name suggests (``application/octet-stream`` when none)."""
    return mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"


class Files:
    """Files (see the module). ``max_file``: the largest length announced."""

    def __init__(
        self,
        directory: Directory,
        access: ChannelAccess,
        sender: Sender,
        ids: Snowflake,
        *,
        max_file: int,
        publish: Callable[[Event], Any],
        message: Callable[[str, int], Awaitable[Message | None]],
        clock_us: Callable[[], int] = wall_us,
    ) -> None:
        #: Reads a message (``MessageStore.message``): a deleted file's share.
        self._message = message
        self._directory = directory
        self._access = access
        self._sender = sender
        self._publish = publish
        self._ids = ids
        self.max_file = max_file
        self._clock_us = clock_us

    async def announce(self, user: User, name: str | None, length: int | None) -> tuple[str, str]:
        """A new file's id and the secret of its upload URL."""
        if not name or len(name) > MAX_NAME or any(ord(ch) < 32 for ch in name):
            detail = f"filename: 1 to {MAX_NAME} characters, no control characters"
            raise ApiError(Code.INVALID_ARGUMENTS, data={"arg": "filename", "detail": detail})
        if length is None or not 1 <= length <= self.max_file:
            detail = f"length: 1 to {self.max_file} bytes"
            raise ApiError(Code.INVALID_ARGUMENTS, data={"arg": "length", "detail": detail})
        file_id = encode_id(Kind.FILE, self._ids.next())
        secret = secrets.token_urlsafe(24)
        now = self._clock_us()
        made = await self._directory.create_file(
            StoredFile(
                id=file_id,
                team_id=user.team_id,
                user_id=user.id,
                name=name,
                title=name,
                mimetype=mimetype_of(name),
                size=length,
                created=now,
                upload_hash=secret_hash(secret),
            ),
            now - STALE_US,
            MAX_WAITING,
        )
        if not made:
            detail = f"{MAX_WAITING} files wait to be uploaded and completed"
            raise ApiError("too_many_uploads", data={"detail": detail})
        return file_id, secret

    async def upload(self, file_id: str, secret: str, data: bytes) -> None:
        """Keeps ``data`` as the content of the file whose upload URL this is: 404
        ``file_not_found`` for a URL that names no waiting file (or was used), 400
        ``invalid_length`` when ``data`` is not the length announced."""
        found = await self._directory.file(file_id) if decode_id(Kind.FILE, file_id) else None
        if found is None or found.uploaded or found.upload_hash != secret_hash(secret):
            raise ApiError(Code.FILE_NOT_FOUND, status=404)
        if len(data) != found.size:
            detail = f"{found.size} bytes were announced, {len(data)} came"
            raise ApiError("invalid_length", status=400, data={"detail": detail})
        if not await self._directory.put_file(file_id, found.upload_hash, data):
            raise ApiError(Code.FILE_NOT_FOUND, status=404)  # taken meanwhile

    async def complete(
        self,
        user: User,
        items: Sequence[tuple[str, str | None]],
        base_url: str,
        *,
        channel_id: str | None = None,
        comment: str | None = None,
        thread_ts: int | None = None,
    ) -> list[dict[str, Any]]:
        """Completes ``items`` (``(file id, title or None)``) and, with ``channel_id``,
        shares them there in one message (see the module); the files as Slack shows
        them. Every check comes before anything is written."""
        if not 1 <= len(items) <= MAX_COMPLETE or len({i for i, _ in items}) != len(items):
            detail = f"files: 1 to {MAX_COMPLETE} distinct files"
            raise ApiError(Code.INVALID_ARGUMENTS, data={"arg": "files", "detail": detail})
        done: list[StoredFile] = []
        for file_id, title in items:
            found = await self._directory.file(file_id) if decode_id(Kind.FILE, file_id) else None
            if found is None or found.user_id != user.id or found.completed:
                raise ApiError(Code.FILE_NOT_FOUND, data={"file": file_id})
            if not found.uploaded:
                raise ApiError("file_not_uploaded", data={"file": file_id})
            title = (title or found.title)[:MAX_TITLE]
            done.append(msgspec.structs.replace(found, title=title, completed=True))
        channel: Channel | None = None
        request = None
        if channel_id is not None:
            channel = await self._access.writable(user, channel_id)
            done = [msgspec.structs.replace(f, channels=(channel.id,)) for f in done]
            shown = [wire.file(f, base_url, (channel,)) for f in done]
            rich = orjson.dumps({"files": shown, "upload": True}).decode()
            request = await self._sender.prepare_post(
                user, channel.id, comment or "", thread_ts=thread_ts, rich=rich
            )
            request = msgspec.structs.replace(request, subtype=FILE_SHARE)
        shares = (channel.id,) if channel is not None else ()
        for f in done:
            if not await self._directory.complete_file(f.id, user.id, f.title, shares):
                raise ApiError(Code.FILE_NOT_FOUND, data={"file": f.id})  # completed meanwhile
        if request is not None and channel is not None:
            posted = await self._sender.write_post(request)
            await self._directory.record_share([f.id for f in done], channel.id, posted.message.ts)
            at = self._clock_us()
            for f in done:  # after the share's message, in the channel's order
                self._publish(events.file_shared(channel, f.id, user.id, at))
        return [wire.file(f, base_url, (channel,) if channel else ()) for f in done]

    async def readable(self, user: User, file_id: str | None) -> StoredFile:
        """The completed file if ``user`` may read it (see the module), else
        ``file_not_found``."""
        found = (
            await self._directory.file(file_id)
            if file_id and decode_id(Kind.FILE, file_id)
            else None
        )
        if found is None or found.team_id != user.team_id:
            raise ApiError(Code.FILE_NOT_FOUND)
        if found.user_id == user.id and found.uploaded:
            return found
        if found.completed and await self.visible_channels(user, found):
            return found
        raise ApiError(Code.FILE_NOT_FOUND)

    async def visible_channels(self, user: User, f: StoredFile) -> list[Channel]:
        """The channels ``f`` is shared in that ``user`` may see."""
        out = []
        for channel_id in f.channels:
            try:
                out.append(await self._access.visible(user, channel_id))
            except ApiError:
                continue
        return out

    async def shown(self, user: User, f: StoredFile, base_url: str) -> dict[str, Any]:
        """``f`` as ``user`` sees it: with only the channels they may see, and its public
        link if it has one."""
        link = await self._directory.file_link(f.id)
        return wire.file(f, base_url, await self.visible_channels(user, f), link)

    async def share_publicly(self, user: User, file_id: str | None) -> StoredFile:
        """Gives a completed file of ``user``'s a public link (``permalink_public``): its
        content to anyone who has it, until revoked or the file is deleted.
        ``not_allowed`` for another's file they can read, ``already_public``."""
        found = await self._own(user, file_id)
        if await self._directory.file_link(found.id) is not None:
            raise ApiError("already_public")
        await self._directory.set_file_link(found.id, secrets.token_urlsafe(24), self._clock_us())
        return found

    async def revoke_public(self, user: User, file_id: str | None) -> StoredFile:
        """Takes a file of ``user``'s public link away (its old URL answers 404)."""
        found = await self._own(user, file_id)
        await self._directory.set_file_link(found.id, None, self._clock_us())
        return found

    async def _own(self, user: User, file_id: str | None) -> StoredFile:
        found = await self.readable(user, file_id)
        if found.user_id != user.id:
            raise ApiError("not_allowed")
        if not found.completed:
            raise ApiError(Code.FILE_NOT_FOUND)
        return found

    async def public_content(self, file_id: str, secret: str) -> tuple[StoredFile, bytes]:
        """The file whose public link names ``secret``, with its content;
        ``file_not_found`` for any other."""
        known = await self._directory.file_link(file_id) if decode_id(Kind.FILE, file_id) else None
        found = await self._directory.file(file_id) if known is not None else None
        if found is None or known is None or not hmac.compare_digest(known, secret):
            raise ApiError(Code.FILE_NOT_FOUND)
        return found, await self._directory.file_content(found.id)

    async def listing(
        self,
        user: User,
        before: tuple[int, str],
        limit: int,
        *,
        user_id: str | None = None,
        channel_id: str | None = None,
    ) -> list[StoredFile]:
        """The files ``user`` may read, newest first, older than ``before``; only
        ``user_id``'s, only those shared in ``channel_id`` (which ``user`` must be able
        to see: ``channel_not_found``)."""
        if channel_id is not None:
            channel_id = (await self._access.visible(user, channel_id)).id
        return await self._directory.files(
            user.team_id, user.id, before, limit, user_id=user_id, channel_id=channel_id
        )

    async def delete(self, user: User, file_id: str | None) -> None:
        """Deletes a file of ``user``'s (``file_not_found`` for anything else,
        ``cant_delete_file`` for another's they can read)."""
        found = await self.readable(user, file_id)
        if found.user_id != user.id:
            raise ApiError("cant_delete_file")
        if not await self.remove(found):
            raise ApiError(Code.FILE_NOT_FOUND)

    async def remove(self, found: StoredFile) -> bool:
        """Deletes ``found`` whoever asks (its owner, or retention): its channels hear
        ``file_deleted`` and the messages that shared it keep its tombstone. ``False``
        when it was gone already."""
        shared = await self._directory.delete_file(found.id)
        if shared is None:
            return False
        at = self._clock_us()
        for channel_id in found.channels:
            self._publish(events.file_deleted(channel_id, found.team_id, found.id, at))
        for channel_id, ts in shared:
            await self._tombstone(channel_id, ts, found.id)
        return True

    async def _tombstone(self, channel_id: str, ts: int, file_id: str) -> None:
        """Leaves the deleted file's tombstone on the message that shared it (gone or
        changed meanwhile: as it now is; deleted: nothing to do)."""
        m = await self._message(channel_id, ts)
        if m is None or m.deleted:
            return
        try:
            await self._sender.rewrite(m, lambda now: content.tombstone_file(now.rich, file_id))
        except ApiError as exc:  # deleted meanwhile, or edited on and on: it keeps the entry
            log.info("no tombstone for %s in %s: %s", file_id, channel_id, exc.code)

    async def content(self, user: User, file_id: str) -> tuple[StoredFile, bytes]:
        """A file ``user`` may read, with its content."""
        found = await self.readable(user, file_id)
        return found, await self._directory.file_content(found.id)


def parse_items(raw: Any) -> list[tuple[str, str | None]]:
    """``files.completeUploadExternal``'s ``files``: a JSON array of ``{"id": "F…",
    "title": "…"}`` (or its text, as form bodies send it)."""
    if isinstance(raw, (str, bytes)):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raw = None
    if not isinstance(raw, list) or not all(
        isinstance(i, dict) and isinstance(i.get("id"), str) for i in raw
    ):
        detail = 'files: a JSON array of {"id": "F…", "title": "…"}'
        raise ApiError(Code.INVALID_ARGUMENTS, data={"arg": "files", "detail": detail})
    return [(i["id"], i["title"] if isinstance(i.get("title"), str) else None) for i in raw]
