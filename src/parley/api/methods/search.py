"""``search.messages`` (``parley.search.service``)."""

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

    async def messages(ctx: Ctx, args: Args) -> dict[str, Any]:
        if ctx.user.is_bot:
            raise ApiError(Code.NOT_ALLOWED_TOKEN_TYPE)
        text = args.str("query", required=True, missing=Code.NO_QUERY, max_len=MAX_QUERY)
        assert text is not None
        by_time = _choice(args, "sort", _SORTS, "score")
        ascending = _choice(args, "sort_dir", _DIRS, "desc")
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
        offset = min(offset, MAX_DEPTH)
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
        pages = max(1, -(-total // count))
        page = offset // count + 1
        out: dict[str, Any] = {
            "query": text,
            "messages": {
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
            },
        }
        if raw_cursor is not None:
            more = offset + count < min(total, MAX_DEPTH)
            nxt = cursors.encode("search", offset + count) if more else ""
            out["response_metadata"] = {"next_cursor": nxt}
        return out

    api.add("search.messages", messages, read=True)
