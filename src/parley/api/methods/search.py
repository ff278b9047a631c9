"""``search.messages``, ``search.files`` and ``search.all`` (``parley.search.service``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley import cursors
from parley.api.args import Args
from parley.api.dispatch import Api, Ctx
from parley.errors import ApiError, Code
from parley.search.query import MAX_QUERY
from parley.search.service import MAX_COUNT, MAX_DEPTH, match

if TYPE_CHECKING:
    from parley.app import Services

_SORTS = {"score": False, "timestamp": True}
_DIRS = {"desc": False, "asc": True}


def _choice(args: Args, name: str, choices: dict[str, bool], default: str) -> bool:
    value = (args.str(name, default=default, max_len=16) or default).lower()
    if value not in choices:
        raise ApiError(
            Code.INVALID_ARGUMENTS,
            data={"arg": name, "detail": f"{name} is one of: {', '.join(choices)}"},
        )
    return choices[value]


def register(api: Api, svc: Services) -> None:
    directory = svc.directory

    def page_of(args: Args) -> tuple[int, int, str | None]:
        """``count``, the offset of ``page`` (or ``cursor``), and the raw cursor."""
        count = args.int("count", default=20, lo=0, hi=1 << 31) or 20
        count = min(count, MAX_COUNT)
        page = args.int("page", default=1, lo=1, hi=MAX_DEPTH)
        raw_cursor = args.str("cursor", max_len=256)
        offset = (page - 1) * count
        if raw_cursor is not None and raw_cursor != "*":
            decoded = cursors.decode_int("search", raw_cursor)
            if decoded is None:
                raise ApiError(Code.INVALID_CURSOR)
            offset = decoded
        return count, min(offset, MAX_DEPTH), raw_cursor

    def paged(found: list, total: int, count: int, offset: int) -> dict[str, Any]:
        """Slack's ``messages`` or ``files`` part of an answer: the matches and where
        they are among all."""
        pages = max(1, -(-total // count))
        page = offset // count + 1
        return {
            "total": total,
            "matches": found,
            "paging": {"count": count, "total": total, "page": page, "pages": pages},
            "pagination": {
                "total_count": total,
                "page": page,
                "per_page": count,
                "page_count": pages,
                "first": offset + 1 if found else 0,
                "last": offset + len(found),
            },
        }

    def query_of(ctx: Ctx, args: Args) -> str:
        if ctx.user.is_bot:
            raise ApiError(Code.NOT_ALLOWED_TOKEN_TYPE)
        text = args.str("query", required=True, missing=Code.NO_QUERY, max_len=MAX_QUERY)
        assert text is not None
        return text

    async def message_matches(
        ctx: Ctx, args: Args, text: str, count: int, offset: int
    ) -> tuple[int, list[dict[str, Any]]]:
        by_time = _choice(args, "sort", _SORTS, "score")
        ascending = _choice(args, "sort_dir", _DIRS, "desc")
        query, total, rows = await svc.searcher.search(
            ctx.user, text, by_time=by_time, ascending=ascending, offset=offset, count=count
        )
        usernames: dict[str, str] = {}
        for m, _ in rows:
            if m.user not in usernames:
                u = await directory.user(m.user)
                usernames[m.user] = u.name if u else ""
        mark = args.bool("highlight")
        found = [
            match(
                m,
                c,
                usernames,
                query,
                base_url=ctx.base_url,
                team_id=ctx.user.team_id,
                mark=mark,
            )
            for m, c in rows
        ]
        return total, found

    async def file_matches(
        ctx: Ctx, args: Args, text: str, count: int, offset: int
    ) -> tuple[int, list[dict[str, Any]]]:
        _choice(args, "sort", _SORTS, "score")  # checked; files come by time either way
        ascending = _choice(args, "sort_dir", _DIRS, "desc")
        _query, total, files = await svc.searcher.files(
            ctx.user, text, ascending=ascending, offset=offset, count=count
        )
        assert svc.files is not None
        return total, [await svc.files.shown(ctx.user, f, ctx.base_url) for f in files]

    async def messages(ctx: Ctx, args: Args) -> dict[str, Any]:
        text = query_of(ctx, args)
        count, offset, raw_cursor = page_of(args)
        total, found = await message_matches(ctx, args, text, count, offset)
        out: dict[str, Any] = {
            "query": text,
            "messages": paged(found, total, count, offset),
        }
        if raw_cursor is not None:
            more = offset + count < min(total, MAX_DEPTH)
            nxt = cursors.encode("search", offset + count) if more else ""
            out["response_metadata"] = {"next_cursor": nxt}
        return out

    async def files(ctx: Ctx, args: Args) -> dict[str, Any]:
        """The files the caller may read whose name or title has the query's words
        (:meth:`.Searcher.files`), newest first."""
        text = query_of(ctx, args)
        count, offset, _cursor = page_of(args)
        total, found = await file_matches(ctx, args, text, count, offset)
        return {"query": text, "files": paged(found, total, count, offset)}

    async def all_(ctx: Ctx, args: Args) -> dict[str, Any]:
        """Messages and files at once, each paged as its own method pages them."""
        text = query_of(ctx, args)
        count, offset, _cursor = page_of(args)
        m_total, m_found = await message_matches(ctx, args, text, count, offset)
        f_total, f_found = await file_matches(ctx, args, text, count, offset)
        return {
            "query": text,
            "messages": paged(m_found, m_total, count, offset),
            "files": paged(f_found, f_total, count, offset),
        }

    api.add("search.messages", messages, read=True)
    api.add("search.files", files, read=True)
    api.add("search.all", all_, read=True)
