"""People's accounts: deactivating a user, making them active again, and ending their web
sessions, whether asked of a node (``admin.users.*``) or written to the directory by
``parley user`` in another process.

Each change is one directory transaction that also records a *notice*, a record of the
durable retry table (:mod:`parley.resilience`), step :data:`STEP`, item
``<user id>/<kind>/<time>`` (one for each change, so a change made while an earlier one's
notice is being applied never has its own forgotten), due at once. Applying a notice
makes the change take effect on every node: the user's tokens are dropped from every
token cache (so the next request reads them again: ``account_inactive`` while
deactivated; ``token_revoked`` for a session ended), the WebSockets they opened are
closed, and, for ``active``, the team hears
``user_change`` with the user as they now are (``deleted`` true or false). A person
made by ``parley user create`` is announced the same way: the team hears Slack's
``team_join`` with them. The node that
made the change applies its notice before it answers (unless a worker of the fleet
claimed it in between, and applies it then); a worker's loop
(:meth:`Accounts.start`, on nodes that run workers) claims and applies the rest, so a
change made by the command line takes effect within ``interval`` seconds.
A notice is applied at least once: applying it twice only says the same again.

A deactivated user keeps their channels, messages and API tokens (refused until they
are active again); their web sessions are ended and their phones' registrations
dropped, so they sign in again and register their phones again once reactivated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from parley.bus.interface import EventBus
from parley.pipeline import events
from parley.pipeline.auth import Authenticator
from parley.resilience.due import DueWork
from parley.resilience.retries import Retry
from parley.resilience.store import RetryStore
from parley.storage.interface import Directory

log = logging.getLogger(__name__)

#: The retry table's step that holds notices.
STEP = "account"
#: A notice's kinds: the user deactivated or active again; their web sessions ended;
#: they joined the workspace (``parley user create``).
ACTIVE, SESSIONS, JOINED = "active", "sessions", "joined"
#: How long a claim holds a notice.
LEASE_US = 30 * 1_000_000


def notice(user_id: str, kind: str, now: int) -> Retry:
    """The notice of a change of ``kind`` to ``user_id``'s account, due at ``now``."""
    return Retry(STEP, f"{user_id}/{kind}/{now}", b"", 0, now, (), now)


class Accounts:
    """Changes accounts (any node with the Web API) and applies the notices of changes
    (:meth:`start`, on worker nodes). ``clock_us`` gives the wall clock in Unix
    microseconds."""

    def __init__(
        self,
        directory: Directory,
        retries: RetryStore,
        auth: Authenticator,
        bus: EventBus,
        *,
        clock_us: Callable[[], int],
        interval: float = 1.0,
    ) -> None:
        self._directory = directory
        self._retries = retries
        self._auth = auth
        self._bus = bus
        self._clock_us = clock_us
        self._work = DueWork(
            retries,
            STEP,
            self._apply_notice,
            clock_us=clock_us,
            interval=interval,
            lease_us=LEASE_US,
            what="accounts",
        )

    async def set_active(self, user_id: str, active: bool) -> None:
        """Deactivates ``user_id`` (``active`` false) or makes them active again; in
        effect on every node when it returns (or being applied by the worker that
        claimed its notice first). The caller has checked that the user exists and that
        it may change them."""
        now = self._clock_us()
        await self._directory.set_deleted(user_id, not active, notice(user_id, ACTIVE, now))
        await self.apply_due()

    async def end_sessions(self, user_id: str) -> int:
        """Signs ``user_id`` out of the web client everywhere (their sessions revoked,
        the WebSockets those opened closed); how many sessions were live."""
        now = self._clock_us()
        ended = await self._directory.end_sessions(user_id, notice(user_id, SESSIONS, now))
        await self.apply_due()
        return ended

    # -- applying notices -----------------------------------------------------------------

    def start(self) -> None:
        self._work.start()

    async def close(self) -> None:
        await self._work.close()

    async def apply_due(self) -> int:
        """Applies the notices due now, each claimed first; how many there were."""
        return await self._work.run_due()

    async def _apply_notice(self, record: Retry) -> None:
        """One notice; one that fails stays claimed until its lease ends, then is due
        again."""
        try:
            user_id, kind, _ = record.item.split("/", 2)
            await self._apply(user_id, kind)
        except Exception:
            log.exception("applying notice %s failed; it is tried again", record.item)
            return
        await self._retries.retry_done(STEP, record.item)

    async def _apply(self, user_id: str, kind: str) -> None:
        if kind == JOINED:
            joiner = await self._directory.user(user_id)
            if joiner is not None and not joiner.deleted:
                self._bus.publish(events.team_join(joiner, self._clock_us()))
            return
        keys = await self._directory.token_keys(user_id, sessions=kind == SESSIONS)
        await self._auth.forget(keys)
        if kind != ACTIVE:
            return
        user = await self._directory.user(user_id)
        if user is not None:
            self._bus.publish(events.user_change(user, self._clock_us()))
