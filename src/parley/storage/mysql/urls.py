"""Database URLs (``mysql://user:password@host:port/database``): parsing, checking and
redacting. Pure; a bad URL is a :class:`~parley.errors.ConfigError` that names the
setting and never shows the password."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from parley.errors import ConfigError

SCHEMES = ("mysql", "mariadb")
DEFAULT_PORT = 3306
#: Database names are written into DDL (``CREATE DATABASE `name```), so only these.
_DATABASE = re.compile(r"[A-Za-z0-9_]{1,64}")


@dataclass(frozen=True, slots=True)
class DbUrl:
    """One database on one server."""

    host: str
    port: int
    user: str
    password: str
    database: str

    def redacted(self) -> str:
        """The URL without its password, for logs, errors and ``parley shards list``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"mysql://{self.user}@{host}:{self.port}/{self.database}"

    @property
    def place(self) -> tuple[str, int, str]:
        """Where the data is (server and database), whoever connects to it."""
        return (self.host, self.port, self.database)


def parse(url: str, setting: str) -> DbUrl:
    """``url`` as a :class:`DbUrl`; ConfigError naming ``setting`` when it is not one."""

    def bad(why: str) -> ConfigError:
        return ConfigError(f"{setting}: {redact(url)!r} {why}")

    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise bad(f"is not a URL ({exc})") from None
    if parts.scheme not in SCHEMES:
        raise bad("must start with mysql:// (mysql://user:password@host:port/database)")
    if not parts.hostname:
        raise bad("names no host")
    if not parts.username:
        raise bad("names no user (mysql://user@host/database)")
    database = parts.path.lstrip("/")
    if not _DATABASE.fullmatch(database):
        raise bad("needs a database name of 1-64 letters, digits or _ (…/parley_s0)")
    if parts.query or parts.fragment:
        raise bad("takes no options (nothing after ?)")
    return DbUrl(
        host=parts.hostname,
        port=port or DEFAULT_PORT,
        user=unquote(parts.username),
        password=unquote(parts.password or ""),
        database=database,
    )


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (best effort, for messages)."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url.strip())


@dataclass(frozen=True, slots=True)
class Topology:
    """Where everything lives: the directory, the shards and each shard's read replica."""

    directory: DbUrl
    shards: tuple[DbUrl, ...]
    replicas: tuple[DbUrl | None, ...]


def topology(
    shard_urls: tuple[str, ...], directory_url: str, replica_urls: tuple[str, ...]
) -> Topology:
    """Checks the settings together: at least one shard, no database twice among the
    shards, at most one replica per shard (empty entries: none), and a directory that
    defaults to the first shard's database (its tables do not clash with a shard's)."""
    if not shard_urls:
        raise ConfigError(
            "PARLEY_SHARDS names no MySQL shard (mysql://user@host:port/database,...); "
            "PARLEY_DIRECTORY_URL and PARLEY_SHARD_REPLICAS need it"
        )
    shards = tuple(parse(u, f"PARLEY_SHARDS entry {i + 1}") for i, u in enumerate(shard_urls))
    seen: dict[tuple[str, int, str], int] = {}
    for i, s in enumerate(shards):
        if s.place in seen:
            raise ConfigError(
                f"PARLEY_SHARDS entries {seen[s.place] + 1} and {i + 1} are the same database "
                f"({s.redacted()}); every shard needs its own"
            )
        seen[s.place] = i
    if len(replica_urls) > len(shards):
        raise ConfigError(
            f"PARLEY_SHARD_REPLICAS has {len(replica_urls)} entries for {len(shards)} shards "
            "(one per shard, in the same order; leave an entry empty for none)"
        )
    replicas = tuple(
        parse(r, f"PARLEY_SHARD_REPLICAS entry {i + 1}") if r.strip() else None
        for i, r in enumerate(replica_urls)
    )
    replicas += (None,) * (len(shards) - len(replicas))
    directory = parse(directory_url, "PARLEY_DIRECTORY_URL") if directory_url else shards[0]
    return Topology(directory, shards, replicas)
