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
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from models.statement_deadline import database_waits

Step = TypeVar("Step", bound=Callable[..., Awaitable[Any]])


def _runs_to_end(method: Step) -> Step:
    """`method` of AsyncSession, run to its end whatever happens to the caller's task."""

    @functools.wraps(method)
    async def shielded(self: ShieldedSession, *args: Any, **kwargs: Any) -> Any:
        return await self.run_to_end(method(self, *args, **kwargs))

    return cast(Step, shielded)


class ShieldedSession(AsyncSession):
    """AsyncSession whose database steps are never interrupted halfway (module docstring)."""

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
