"""aiosqlite as SQLAlchemy drives it, with one trip to the connection's thread per statement.

aiosqlite runs every sqlite3 call in a thread of its own and hands each result back to the
event loop. SQLAlchemy's adapter makes four such trips per statement (open a cursor,
execute, fetch the rows, close), and each trip costs more than a small indexed statement
itself: `SELECT 1` through a session took 0.50 ms with four trips and 0.20-0.24 ms with
one (bench/progress.py prints it for each run). Every request pays it on
every statement (two just to authenticate, sixteen for a progress write), so this cursor
does the four steps in one function run in the connection's thread and keeps what SQLAlchemy
reads afterwards: the rows, `description`, `rowcount` and `lastrowid`.

Everything else (connections, transactions, error mapping, server-side cursors for
streamed results) is SQLAlchemy's aiosqlite dialect unchanged; `create_engine` passes this
module as the DBAPI. The one private call is `aiosqlite.Connection._execute(function)`,
the method aiosqlite's own cursors queue their work with.
"""

from __future__ import annotations

import collections
import sqlite3
import time
from types import ModuleType
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

from models.statement_deadline import PROGRESS_STEPS, StatementDeadlinePassed, statement_deadline

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
    __slots__ = ()
    _cursor_cls = OneTripCursor

    def rollback(self) -> None:
        # Every connection is rolled back as it goes back to the pool, most after reads
        # only: with no transaction open there is nothing to undo, and no trip to make.
        connection = self._connection._connection
        if connection is not None and not connection.in_transaction:
            return
        super().rollback()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        connection = super().connect(*arg, **kw)
        # The parent made its own adapter around the new connection: re-wrap it.
        return OneTripConnection(self, connection._connection)


def one_trip_dbapi() -> OneTripDBAPI:
    """The module to pass as `create_async_engine(..., module=...)` for SQLite URLs."""
    sqlite_module: ModuleType = sqlite3
    return OneTripDBAPI(aiosqlite, sqlite_module)
