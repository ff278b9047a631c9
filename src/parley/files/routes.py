"""The HTTP routes of files outside ``/api/`` (:class:`~parley.api.http.HttpApp` hands
them every request under :data:`PREFIX`):

- ``POST /files/upload/<file id>/<secret>``: a file's bytes, the whole body, at the URL
  ``files.getUploadURLExternal`` gave (no token: the URL is the secret, as Slack's);
  ``200 OK - <length>``, as Slack's upload host answers.
- ``GET /files/<file id>/<name>`` (``url_private``; ``?download=1``:
  ``url_private_download``): the content, for a token (``Authorization: Bearer``) with
  ``files:read`` or the web client's session, that may read the file
  (:meth:`.Files.readable`). Images of kinds browsers show safely are served inline,
  everything else as an attachment, and nothing is ever run on this origin (``nosniff``,
  a sandboxing CSP).
- ``GET /files/emoji/<team id>/<name>``: a workspace's own emoji's image, to anyone
  (:mod:`parley.custom_emoji`), cached for five minutes.
- ``GET /files/avatars/<team id>/<user id>/<version>``: a person's photo, to anyone
  (:mod:`parley.photos`), kept by browsers for good (a new photo has a new URL).
- ``GET /files/public/<file id>/<secret>``: a file by its public link, to anyone
  (``files.sharedPublicURL``), served as a download is.
- ``GET /files/proxy?url=<url>``: another site's image (a link preview's, an app's
  attachment's), fetched by the server for a signed-in caller
  (:meth:`parley.unfurl.fetch.Fetcher.image`: public addresses only, checked by its bytes),
  so that the web client shows it without the reader's browser contacting that site;
  each user's fetches are rate limited (:data:`parley.pipeline.limits.PROXY_BURST`, then
  ``PROXY_RATE`` a second: 429 ``ratelimited`` with ``Retry-After``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, quote

from parley import photos
from parley.api.dispatch import Response, error_response
from parley.api.h1 import Request
from parley.api.request import bearer_token
from parley.custom_emoji import PREFIX as EMOJI_PREFIX
from parley.errors import ApiError, Code, StorageUnavailable, unavailable
from parley.files.service import Files
from parley.pipeline import scopes
from parley.pipeline.auth import Authenticator
from parley.pipeline.limits import Limiter, Unlimited
from parley.storage.models import Caller, StoredFile
from parley.web import CLIENT_HEADER, session_token

log = logging.getLogger(__name__)

#: The paths these routes answer.
PREFIX = "/files/"
#: Where uploads go: the one path whose body may be as large as a file.
UPLOAD_PREFIX = "/files/upload/"
#: Media types shown inline (images a browser renders without running anything).
INLINE = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
#: What every download carries: nothing in it runs on this origin.
_SAFE = (
    ("x-content-type-options", "nosniff"),
    ("content-security-policy", "default-src 'none'; sandbox"),
    ("cache-control", "private, max-age=3600"),
)


#: What an emoji's image carries: the same, and public for a few minutes.
_EMOJI_SAFE = (*_SAFE[:2], ("cache-control", "public, max-age=300"))
#: ``(team id, name) -> (mimetype, image)`` or ``None``: a workspace's emoji's image.
EmojiImage = Callable[[str, str], Awaitable["tuple[str, bytes] | None"]]
#: ``user id -> (team id, mimetype, image)`` or ``None``: a person's photo.
AvatarImage = Callable[[str], Awaitable["tuple[str, str, bytes] | None"]]
#: What a person's photo carries: its URL names its version, so it is kept for good.
_AVATAR_SAFE = (*_SAFE[:2], ("cache-control", "public, max-age=31536000, immutable"))
#: ``url -> (mimetype, image)`` or ``None``: another site's image.
ProxyImage = Callable[[str], Awaitable["tuple[str, bytes] | None"]]
#: Where other sites' images are served from.
PROXY_PATH = "/files/proxy"
#: Where files are served by their public links (``/files/public/<file id>/<secret>``).
PUBLIC_PREFIX = "/files/public/"
#: What a file served by its public link carries: kept a minute, so a revoked link
#: stops serving soon.
_PUBLIC_SAFE = (*_SAFE[:2], ("cache-control", "private, max-age=60"))
#: What such an image carries: nothing in it runs, kept by the browser for a day.
_PROXY_SAFE = (*_SAFE[:2], ("cache-control", "private, max-age=86400"))


class FileRoutes:
    """``async (Request) -> Response`` for the paths under :data:`PREFIX`."""

    def __init__(
        self,
        files: Files,
        auth: Authenticator,
        emoji_image: EmojiImage | None = None,
        proxy_image: ProxyImage | None = None,
        limits: Limiter | None = None,
        avatar_image: AvatarImage | None = None,
    ) -> None:
        self._files = files
        self._auth = auth
        self._emoji_image = emoji_image
        self._proxy_image = proxy_image
        self._limits = limits or Unlimited()
        self._avatar_image = avatar_image

    async def __call__(self, req: Request) -> Response:
        try:
            if req.path.startswith(UPLOAD_PREFIX):
                return await self._upload(req)
            if req.path.startswith(EMOJI_PREFIX) and self._emoji_image is not None:
                return await self._emoji(req)
            if req.path == PROXY_PATH:
                return await self._proxy(req)
            if req.path.startswith(photos.PREFIX) and self._avatar_image is not None:
                return await self._avatar(req)
            if req.path.startswith(PUBLIC_PREFIX):
                return await self._public(req)
            return await self._download(req)
        except ApiError as exc:
            return error_response(exc)
        except StorageUnavailable as exc:
            return error_response(unavailable(exc))
        except Exception:
            log.exception("a file route failed")
            return error_response(ApiError(Code.INTERNAL_ERROR, status=500))

    async def _upload(self, req: Request) -> Response:
        if req.method != "POST":
            raise ApiError(Code.METHOD_NOT_ALLOWED, status=405, headers={"allow": "POST"})
        parts = req.path[len(UPLOAD_PREFIX) :].split("/")
        if len(parts) != 2:
            raise ApiError(Code.FILE_NOT_FOUND, status=404)
        if req.body is None:
            raise ApiError(Code.REQUEST_TOO_LARGE, status=413)
        await self._files.upload(parts[0], parts[1], req.body)
        body = f"OK - {len(req.body)}".encode()
        return Response(200, body, (("content-type", "text/plain; charset=utf-8"),))

    async def _emoji(self, req: Request) -> Response:
        """A workspace's emoji's image, to anyone (:mod:`parley.custom_emoji`)."""
        _only_read(req)
        parts = req.path[len(EMOJI_PREFIX) :].split("/")
        assert self._emoji_image is not None
        found = await self._emoji_image(*parts) if len(parts) == 2 else None
        return _image(found, "emoji_not_found", _EMOJI_SAFE)

    async def _avatar(self, req: Request) -> Response:
        """A person's photo, to anyone (:mod:`parley.photos`)."""
        _only_read(req)
        named = photos.parse_path(req.path[len(photos.PREFIX) :])
        assert self._avatar_image is not None
        found = await self._avatar_image(named[1]) if named else None
        ours = found is not None and named is not None and found[0] == named[0]
        return _image(found[1:] if ours else None, "image_not_found", _AVATAR_SAFE)

    async def _public(self, req: Request) -> Response:
        """A file by its public link, to anyone (:meth:`.Files.public_content`)."""
        _only_read(req)
        parts = req.path[len(PUBLIC_PREFIX) :].split("/")
        if len(parts) != 2:
            raise ApiError(Code.FILE_NOT_FOUND, status=404)
        try:
            found, data = await self._files.public_content(parts[0], parts[1])
        except ApiError as exc:
            raise ApiError(exc.code, status=404) from exc
        return _file_response(found, data, req, _PUBLIC_SAFE)

    async def _caller(self, req: Request) -> Caller:
        """Who asks, by their token or this tab's session (401 for nobody)."""
        headers = req.headers
        token = bearer_token(headers.get("authorization")) or session_token(
            headers.get("cookie"), headers.get(CLIENT_HEADER)
        )
        try:
            return await self._auth.authorize(token)
        except ApiError as exc:
            raise ApiError(exc.code, status=401) from exc

    async def _proxy(self, req: Request) -> Response:
        _only_read(req)
        caller = await self._caller(req)
        await self._limits.check_proxy(caller.user)
        url = (parse_qs(req.query_string).get("url") or [""])[0]
        if self._proxy_image is None or not url.startswith(("https://", "http://")):
            return _image(None, "image_not_found", _PROXY_SAFE)
        return _image(await self._proxy_image(url), "image_not_found", _PROXY_SAFE)

    async def _download(self, req: Request) -> Response:
        _only_read(req)
        parts = req.path[len(PREFIX) :].split("/")
        if len(parts) != 2:
            raise ApiError(Code.FILE_NOT_FOUND, status=404)
        caller = await self._caller(req)
        try:
            scopes.require("files.info", caller.scopes)
        except ApiError as exc:
            raise ApiError(exc.code, status=403, data=exc.data) from exc
        try:
            found, data = await self._files.content(caller.user, parts[0])
        except ApiError as exc:
            raise ApiError(exc.code, status=404) from exc
        return _file_response(found, data, req, _SAFE)


def _image(
    found: tuple[str, bytes] | None, missing: str, safe: tuple[tuple[str, str], ...]
) -> Response:
    """An image ``(media type, bytes)`` with ``safe``'s headers; 404 ``missing`` for
    none (an emoji, a photo, another site's image)."""
    if found is None:
        raise ApiError(missing, status=404)
    kind, data = found
    return Response(200, data, (("content-type", kind), *safe))


def _only_read(req: Request) -> None:
    """405 for a request that is neither a GET nor a HEAD (the routes that serve)."""
    if req.method not in ("GET", "HEAD"):
        raise ApiError(Code.METHOD_NOT_ALLOWED, status=405, headers={"allow": "GET, HEAD"})


def _file_response(
    found: StoredFile, data: bytes, req: Request, safe: tuple[tuple[str, str], ...]
) -> Response:
    """A file's content: an image of a kind browsers show safely inline (unless
    ``?download``), anything else as an attachment, with ``safe``'s headers."""
    download = "download" in parse_qs(req.query_string)
    inline = found.mimetype in INLINE and not download
    disposition = "inline" if inline else "attachment"
    named = f"{disposition}; filename*=UTF-8''{quote(found.name, safe='')}"
    kind = found.mimetype if inline else "application/octet-stream"
    return Response(200, data, (("content-type", kind), ("content-disposition", named), *safe))
