"""The one road every write takes (DESIGN.md, how a request flows, step 5).

A mutation hands the unit of work a change: a function that finds its objects, asks the
policy (permissions/policy.py) whether the viewer may make it, and calls the domain
(models/*), which validates, claims the expected version, appends the event, updates
current state and the rollups, and appends the audit row and the change-feed row (the
feed rows are written last, as the transaction commits: models/change_feed.py). The unit
of work runs it in one transaction and owns what every write shares:

- a refusal rolls everything back and is returned, never raised;
- exactly-once replay (domain/exactly_once.py) for writes sent with an idempotency key;
- retries of transient failures: when another writer got in between this change's reads
  and its writes (a lock, a serialization failure, a version claimed meanwhile), the
  whole change runs again from fresh reads, and after `MAX_ATTEMPTS` the client is told to
  try again rather than shown a database error.

It takes a session and a viewer, not the GraphQL context: the edge turns its request into
one (graph/resolvers/mutations.py), and anything else that writes on someone's behalf can.
`recordMilestone` takes the same road in batches (domain/milestone_writer.py).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from domain import exactly_once
from domain.exactly_once import Answer, Keyed
from graph.observability.metrics import record_write_retry
from models.audit import Actor
from models.database import lock_wait_budget
from models.refusals import Conflicting, Contention, OutcomeUnknown, Refusal
from permissions.viewer import Viewer

Result = TypeVar("Result")

# Concurrent writers on one row retry on fresh reads; past this many tries the client is told
# to try again later rather than kept waiting (or shown a database error).
MAX_ATTEMPTS = 40
_RETRY_DELAY_SECONDS = (0.002, 0.02)


class VersionedRow(Protocol):
    id: int
    version: int


def is_transient(error: DBAPIError) -> bool:
    """A lock or serialization failure that a new attempt can get past."""
    code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    if code in {"40001", "40P01", "55P03"}:  # serialization failure, deadlock, lock timeout
        return True
    text = str(error.orig).lower()
    return "database is locked" in text or "database is busy" in text


async def with_retries(
    attempt: Callable[[], Awaitable[Result]],
    undo: Callable[[], Awaitable[None]],
    lock_wait_seconds: float | None = None,
) -> Result | Conflicting:
    """`attempt` until it gets past other writers: after `Contention` or a transient database
    error, `undo` (roll back), pause, and attempt again, at most `MAX_ATTEMPTS` times. Once
    the attempts have spent `lock_wait_seconds` in all, a lock (a transient error) is raised
    rather than waited on again: the edge answers UNAVAILABLE (graph/database_faults.py),
    where 40 waits of a lock's bound each would hold the client for minutes."""
    started = time.monotonic()
    for _attempt in range(MAX_ATTEMPTS):
        try:
            return await attempt()
        except Contention:
            pass
        except DBAPIError as error:
            if not is_transient(error):
                raise
            if lock_wait_seconds is not None and time.monotonic() - started >= lock_wait_seconds:
                raise
        await undo()
        await pause_before_retry()
    return too_busy()


async def commit_or_outcome_unknown(session: AsyncSession) -> None:
    """Commit; a connection lost while the commit was on its way leaves the outcome unknown
    (OutcomeUnknown), where any other failure is known not to have committed."""
    try:
        await session.commit()
    except DBAPIError as error:
        if error.connection_invalidated:
            raise OutcomeUnknown() from error
        raise


async def pause_before_retry() -> None:
    """A random pause, so writers that collided do not collide again at once."""
    record_write_retry()
    await asyncio.sleep(random.uniform(*_RETRY_DELAY_SECONDS))


def too_busy() -> Conflicting:
    """The answer once MAX_ATTEMPTS attempts all met other writers."""
    return Conflicting("Too many people are changing this right now; please try again.")


def _nothing_to_forget() -> None:
    pass


@dataclass(slots=True)
class UnitOfWork:
    """One viewer's writes on one session."""

    session: AsyncSession
    viewer: Viewer
    request_id: str | None = None
    # Called whenever a transaction ends (commit or rollback): whatever the caller cached
    # from the session (the edge's DataLoaders) is stale from then on.
    forget_reads: Callable[[], None] = field(default=_nothing_to_forget)
    # Called as a commit is sent: from then on the write may be recorded, whatever follows.
    sending_commit: Callable[[], None] = field(default=_nothing_to_forget)

    @property
    def actor(self) -> Actor:
        return Actor(self.viewer.user_id, self.viewer.subject, self.request_id)

    async def run(self, change: Callable[[], Awaitable[Result]]) -> Result | Refusal:
        """Run `change` and commit; on a refusal roll everything back and return it."""

        async def attempt() -> Result | Refusal:
            try:
                result = await change()
                self.sending_commit()
                await commit_or_outcome_unknown(self.session)
            except Refusal as refusal:
                await self._roll_back()
                return refusal
            except (Contention, DBAPIError):
                raise  # with_retries decides; it rolls back before any new attempt
            except BaseException:
                await self._roll_back()
                raise
            self.forget_reads()
            return result

        try:
            return await with_retries(attempt, self._roll_back, lock_wait_budget(self.session))
        except DBAPIError:
            await self._roll_back()
            raise

    async def run_exactly_once(
        self,
        operation: str,
        request: Mapping[str, object],
        idempotency_key: str | None,
        act: Callable[[], Awaitable[VersionedRow]],
    ) -> Answer | Refusal:
        """`run` for writes that take an idempotency key: at most once per key.

        The key is looked up before anything else, so a repeat gets its first answer even
        when the viewer could no longer make that change (a difficulty escalated away from
        them). A repeat racing its own first attempt is refused by what the first changed
        (a new version); once that one committed, it is answered as the first was.
        """

        async def change() -> Answer:
            write = Keyed.of(self.viewer.user_id, operation, request, idempotency_key)
            replayed = await exactly_once.first_answer(self.session, write)
            if replayed is not None:
                return replayed
            try:
                row = await act()
            except Refusal:
                # Nothing `act` wrote before refusing may be kept, whatever the answer.
                await self._roll_back()
                replayed = await exactly_once.first_answer(self.session, write)
                if replayed is not None:
                    return replayed
                raise
            answer = Answer(row.id, row.version)
            if write is not None:
                # Everything else first, so an integrity error can only be about the key.
                await self.session.flush()
                exactly_once.keep(self.session, write, answer)
                await exactly_once.flush_kept(self.session)
            return answer

        return await self.run(change)

    async def _roll_back(self) -> None:
        await self.session.rollback()
        self.forget_reads()
