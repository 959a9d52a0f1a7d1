"""A hot bounded read, compiled once and run on the session's own DBAPI connection.

SQLAlchemy's execution layer (execution context, cursor result, the ORM's loading on top)
costs several times what a small indexed read costs the database, on every execution. A
`PreparedRead` keeps the statement compiled for the engine's dialect with the type
processing of its parameters and columns, and runs it through the DBAPI cursor of the
connection the session already holds, so it sees the session's transaction and the driver
adapter still serialises it with the session's other statements (and, on PostgreSQL,
begins the transaction). On SQLite it runs on the event loop like any `BOUNDED_READ`
(models/sqlite_driver.py), so use it only for reads whose cost does not grow with the tree.

It returns plain tuples and does not autoflush; errors are the driver's own, not wrapped in
SQLAlchemy's, and
`echo` does not log it. The engine's `before_cursor_execute` and `after_cursor_execute`
listeners are called for it (with no execution context, and their return values unused).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import Compiled

from models.sqlite_driver import OneTripCursor

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class PreparedRead:
    compiled: Compiled
    # The names of the positional parameters, in order, each with its bind processor.
    positions: tuple[tuple[str, Processor], ...]
    columns: tuple[Processor, ...]

    @classmethod
    def of(cls, statement: Select[*tuple[Any, ...]], dialect: Dialect) -> PreparedRead:
        compiled = statement.compile(dialect=dialect)
        positions = tuple(
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup or ()
        )
        columns = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        )
        return cls(compiled, positions, columns)

    async def one_or_none(
        self, session: AsyncSession, parameters: Mapping[str, Any]
    ) -> tuple[Any, ...] | None:
        return await session.run_sync(self._one_or_none, parameters)

    def _one_or_none(
        self, session: Session, parameters: Mapping[str, Any]
    ) -> tuple[Any, ...] | None:
        values = self.compiled.construct_params(dict(parameters)) or {}
        positional = tuple(
            values[name] if process is None else process(values[name])
            for name, process in self.positions
        )
        connection = session.connection()
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        if isinstance(cursor, OneTripCursor):
            cursor.run_on_loop = True
        sql = self.compiled.string
        # The engine's cursor events see it as any statement (statement counts, tracing);
        # SQLAlchemy documents their execution context as possibly None.
        connection.dispatch.before_cursor_execute(connection, cursor, sql, positional, None, False)
        try:
            cursor.execute(sql, positional)
            rows = cursor.fetchall()
        finally:
            cursor.close()
        connection.dispatch.after_cursor_execute(connection, cursor, sql, positional, None, False)
        if not rows:
            return None
        if len(rows) > 1:
            raise ValueError(f"{len(rows)} rows where at most one was expected")
        return tuple(
            value if process is None else process(value)
            for value, process in zip(rows[0], self.columns, strict=True)
        )
