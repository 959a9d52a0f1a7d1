"""aiosqlite as SQLAlchemy drives it, with one trip to the connection's thread per statement.

aiosqlite runs every sqlite3 call in a thread of its own and hands each result back to the
event loop. SQLAlchemy's adapter makes four such trips per statement (open a cursor,
execute, fetch the rows, close), and each trip costs more than a small indexed statement
itself: `SELECT 1` through a session took 0.50 ms with four trips and 0.20-0.24 ms with
one (bench/progress.py prints it for each run). Every request pays it on
every statement (two just to authenticate, sixteen for a progress write), so this cursor
does the four steps in one function run in the connection's thread and keeps what SQLAlchemy
reads afterwards: the rows, `description`, `rowcount` and `lastrowid`.

Writers take turns in the worker before they take SQLite's one write lock (`WriteGate`):
first come, first served, waiting on the event loop. Left to SQLite, a writer that found
the lock taken slept in its busy handler and polled again after 1, 2, 5, ... then every
100 ms: the lock sat free between a commit and the next poll, and whoever polled at the
right moment won: under 200 clients (bench/load.py) 1 % of the writes waited 3.5-6 s for
the lock, the longest 9 s, while the lock was held for 34-44 ms at the median.

Everything else (connections, transactions, error mapping, server-side cursors for
streamed results) is SQLAlchemy's aiosqlite dialect unchanged; `create_engine` passes this
module as the DBAPI. The one private call is `aiosqlite.Connection._execute(function)`,
the method aiosqlite's own cursors queue their work with.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import time
from types import ModuleType
from typing import Any, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

from models.statement_deadline import PROGRESS_STEPS, StatementDeadlinePassed, statement_deadline

# Statements before which the driver opens a transaction that takes SQLite's write lock
# (sqlite3 begins one before any INSERT, UPDATE, DELETE or REPLACE), and the tree lock's
# explicit BEGIN IMMEDIATE (models/tree_moves.py).
_WRITE_STATEMENTS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "BEGIN IMMEDIATE")


def takes_write_lock(operation: str) -> bool:
    return operation.lstrip()[:15].upper().startswith(_WRITE_STATEMENTS)


class WriteGate:
    """One engine's write transactions, one at a time, in the order they asked.

    Entered before the statement that would open a write transaction, left when that
    transaction ends (commit, rollback, or the connection closed). Waiting past
    `wait_seconds` is SQLite's own answer to a lock held too long: "database is locked",
    a transient error writes retry on (graph/resolvers/mutations.py); waiting past the
    request's deadline stops the request as a statement running past it would. Other
    processes (more workers, the command line) still meet at SQLite's lock, with its busy
    timeout; a statement that opens a write transaction without starting with one of
    `_WRITE_STATEMENTS` does too.
    """

    def __init__(self, wait_seconds: float) -> None:
        self._turn = asyncio.Lock()  # wakes its waiters first in, first out
        self._wait_seconds = wait_seconds

    async def enter(self, deadline: float | None) -> None:
        give_up_at = time.monotonic() + self._wait_seconds
        if deadline is not None and deadline < give_up_at:
            give_up_at, stops_request = deadline, True
        else:
            stops_request = False
        try:
            async with asyncio.timeout_at(_loop_time(give_up_at)):
                await self._turn.acquire()
        except TimeoutError:
            if stops_request:
                raise StatementDeadlinePassed() from None
            raise sqlite3.OperationalError("database is locked") from None

    def leave(self) -> None:
        self._turn.release()


def _loop_time(monotonic: float) -> float:
    """A time.monotonic() as the running loop's clock (the same clock, unless a loop says
    otherwise)."""
    return asyncio.get_running_loop().time() + (monotonic - time.monotonic())


# description, rowcount, lastrowid, rows: what a statement leaves for SQLAlchemy to read.
Outcome = tuple[Any, int, int | None, list[Any]]


def execute_statement(
    connection: sqlite3.Connection,
    operation: str,
    parameters: Any,
    *,
    many: bool,
    deadline: float | None = None,
) -> Outcome:
    """In the connection's thread: the whole statement, cursor opened and closed.
    `many`: `parameters` is a sequence of parameter sets (executemany). Past `deadline`
    (time.monotonic()), SQLite stops it: StatementDeadlinePassed."""
    if deadline is not None:
        connection.set_progress_handler(lambda: time.monotonic() > deadline, PROGRESS_STEPS)
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, cursor.rowcount, cursor.lastrowid, rows
    except sqlite3.OperationalError:
        if deadline is not None and time.monotonic() > deadline:
            raise StatementDeadlinePassed() from None
        raise
    finally:
        # First: the handler must not outlive the statement, whatever close() does.
        if deadline is not None:
            connection.set_progress_handler(None, 0)
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        # No aiosqlite cursor: each statement opens and closes a sqlite3 one in the thread.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._run(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._run(operation, seq_of_parameters, many=True)

    async def _run(self, operation: Any, parameters: Any, *, many: bool) -> None:
        deadline = statement_deadline.get()
        connection = cast(OneTripConnection, self._adapt_connection)
        if (
            not connection.holds_write_gate
            and not connection.sqlite_in_transaction
            and takes_write_lock(operation)
        ):
            await connection.enter_write_gate(deadline)
        try:
            await self._run_in_thread(operation, parameters, many=many, deadline=deadline)
        finally:
            # A statement that failed before its transaction opened holds nothing.
            connection.leave_write_gate_unless_in_transaction()

    async def _run_in_thread(
        self, operation: Any, parameters: Any, *, many: bool, deadline: float | None
    ) -> None:
        async with self._adapt_connection._execute_mutex:
            outcome = await self._connection._execute(
                execute_statement,
                self._connection._conn,
                operation,
                parameters,
                many=many,
                deadline=deadline,
            )
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = collections.deque(rows)

    async def _async_soft_close(self) -> None:
        """Nothing is open: the statement's cursor was closed in the thread."""

    def close(self) -> None:
        self._rows.clear()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("holds_write_gate",)
    _cursor_cls = OneTripCursor

    def __init__(self, dbapi: OneTripDBAPI, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.holds_write_gate = False

    async def enter_write_gate(self, deadline: float | None) -> None:
        await self.dbapi.write_gate.enter(deadline)
        self.holds_write_gate = True

    @property
    def sqlite_in_transaction(self) -> bool:
        """Whether the sqlite3 connection has a transaction open (none once it is closed)."""
        connection = self._connection._connection
        return connection is not None and bool(connection.in_transaction)

    def leave_write_gate_unless_in_transaction(self) -> None:
        if not self.sqlite_in_transaction:
            self._give_up_write_gate()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.leave_write_gate_unless_in_transaction()

    def rollback(self) -> None:
        # Every connection is rolled back as it goes back to the pool, most after reads
        # only: with no transaction open there is nothing to undo, and no trip to make.
        connection = self._connection._connection
        if connection is not None and not connection.in_transaction:
            self.leave_write_gate_unless_in_transaction()
            return
        try:
            super().rollback()
        finally:
            self.leave_write_gate_unless_in_transaction()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._give_up_write_gate()

    def terminate(self) -> None:
        try:
            super().terminate()
        finally:
            self._give_up_write_gate()

    def _give_up_write_gate(self) -> None:
        if self.holds_write_gate:
            self.holds_write_gate = False
            self.dbapi.write_gate.leave()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def __init__(self, aiosqlite_module: ModuleType, sqlite_module: ModuleType, *,
                 write_wait_seconds: float) -> None:  # fmt: skip
        super().__init__(aiosqlite_module, sqlite_module)
        self.write_gate = WriteGate(write_wait_seconds)

    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        connection = super().connect(*arg, **kw)
        # The parent made its own adapter around the new connection: re-wrap it.
        return OneTripConnection(self, connection._connection)


def one_trip_dbapi(*, write_wait_seconds: float) -> OneTripDBAPI:
    """The module to pass as `create_async_engine(..., module=...)` for SQLite URLs: one
    per engine, since its writers take turns at its `WriteGate` (waiting at most
    `write_wait_seconds`, as long as SQLite's busy timeout would have let them)."""
    sqlite_module: ModuleType = sqlite3
    return OneTripDBAPI(aiosqlite, sqlite_module, write_wait_seconds=write_wait_seconds)
