"""A session whose statements, once sent, run to their end even if their task is cancelled.

graphql-core cancels the sibling fields of a non-null field that failed (and strawberry's
DataLoader cancels a batch whose every caller went away). A cancellation that lands while
SQLAlchemy awaits the driver is thrown into the statement: SQLAlchemy then invalidates the
connection that the whole request shares, and terminating it races with the driver. On
aiosqlite that left a close queued behind a stopped thread, awaited for ever (the request
was never answered and the worker could not shut down), and a connection closed in one
thread while another used it.

So every awaited step of this session runs in a task of its own, shielded: a cancelled
caller first waits for the step to finish, then is cancelled as it asked, and SQLAlchemy
never sees the cancellation. `close()` waits for steps still running (a batch whose callers
were cancelled), so nothing of a request touches its connection after the request is over.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from models.statement_deadline import database_waits

Step = TypeVar("Step", bound=Callable[..., Awaitable[Any]])
# How long giving a connection back (its rollback) may take before the connection is
# terminated instead: a healthy database answers a rollback in milliseconds.
CLOSE_WAIT_SECONDS = 2.0
_DRIVER_CONNECTION = "congress_driver_connection"


def _runs_to_end(method: Step) -> Step:
    """`method` of AsyncSession, run to its end whatever happens to the caller's task."""

    @functools.wraps(method)
    async def shielded(self: ShieldedSession, *args: Any, **kwargs: Any) -> Any:
        return await self.run_to_end(method(self, *args, **kwargs))

    return cast(Step, shielded)


class _ConnectionNotingSession(Session):
    """The session under a ShieldedSession: notes the driver's connection each transaction
    runs on (`after_begin`), so that closing can terminate it without asking the pool."""


def _note_driver_connection(
    session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    session.info[_DRIVER_CONNECTION] = connection.connection.driver_connection


event.listen(_ConnectionNotingSession, "after_begin", _note_driver_connection)


class ShieldedSession(AsyncSession):
    """AsyncSession whose database steps are never interrupted halfway (module docstring)."""

    sync_session_class = _ConnectionNotingSession

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._steps_running: set[asyncio.Task[Any]] = set()

    async def run_to_end(self, step: Awaitable[Any]) -> Any:
        task = asyncio.ensure_future(step)
        self._steps_running.add(task)
        task.add_done_callback(self._steps_running.discard)
        waits = database_waits.get()
        if waits is not None:
            waits.under_way += 1
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            await _settled(task)
            raise
        finally:
            if waits is not None:
                waits.under_way -= 1
                waits.last_ended_at = time.monotonic()

    execute = _runs_to_end(AsyncSession.execute)
    scalar = _runs_to_end(AsyncSession.scalar)  # type: ignore[assignment,arg-type]
    scalars = _runs_to_end(AsyncSession.scalars)
    get = _runs_to_end(AsyncSession.get)
    run_sync = _runs_to_end(AsyncSession.run_sync)
    connection = _runs_to_end(AsyncSession.connection)
    flush = _runs_to_end(AsyncSession.flush)
    refresh = _runs_to_end(AsyncSession.refresh)
    delete = _runs_to_end(AsyncSession.delete)
    commit = _runs_to_end(AsyncSession.commit)
    rollback = _runs_to_end(AsyncSession.rollback)

    async def settle(self) -> None:
        """Wait for the steps still running for callers that stopped waiting (a cancelled
        caller, a DataLoader batch whose callers failed), so the next step is alone."""
        while self._steps_running:
            await asyncio.wait(set(self._steps_running))

    async def close(self) -> None:
        # The connection goes back to the pool only after every step on it.
        await self.settle()
        # Giving it back rolls it back: a database that stopped answering would hold that
        # for ever, and with it the request's task long after its answer went out. Past
        # CLOSE_WAIT_SECONDS the connection is terminated (its socket closed at once), and
        # the rollback waiting on it fails at once; the pool opens a new one when needed.
        noted: Any = self.sync_session.info.pop(_DRIVER_CONNECTION, None)
        # Only the connection of a transaction still open is this session's to end: after a
        # commit, the one noted may be another request's by now.
        terminate = getattr(noted, "terminate", None) if self.in_transaction() else None
        closing = asyncio.ensure_future(self._close_at_last())
        done, _pending = await asyncio.wait({closing}, timeout=CLOSE_WAIT_SECONDS)
        if not done and callable(terminate):
            terminate()
        await closing

    async def _close_at_last(self) -> None:
        try:
            await self.run_to_end(super().close())
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            # The connection died under the session (the database restarted, the network
            # cut it): there is nothing left to roll back, and the pool has let it go. The
            # request's answer, which may be on its way already, is not this close's.


async def _settled(task: asyncio.Task[Any]) -> None:
    """Wait until `task` is done, through any further cancellation of the waiter."""
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            continue
    if not task.cancelled():
        # Its outcome belongs to nobody now; retrieve it so asyncio does not log it.
        task.exception()
