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
        # Parameters rendered at execution (expanding IN lists, literal_execute) and names
        # the dialect escapes need SQLAlchemy's execution layer; refuse them here.
        if compiled.post_compile_params or compiled.literal_execute_params:
            raise ValueError("a PreparedRead takes no expanding or literal-execute parameters")
        if compiled.escaped_bind_names:
            raise ValueError(
                "a PreparedRead takes only parameter names the dialect need not escape"
            )
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
        _drop_stale_statements_before(connection.dialect, cursor)
        sql = self.compiled.string
        # The engine's cursor events see it as any statement (statement counts, tracing);
        # SQLAlchemy documents their execution context as possibly None.
        connection.dispatch.before_cursor_execute(connection, cursor, sql, positional, None, False)
        try:
            cursor.execute(sql, positional)
            rows = cursor.fetchall()
        except Exception as error:
            _drop_stale_statements_after(connection.dialect, error)
            # Wrapped in SQLAlchemy's DBAPIError, a lost connection invalidated and the
            # engine's handle_error listeners called, as for any statement (it raises).
            connection._handle_dbapi_exception(error, sql, positional, cursor, None)
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


# PostgreSQL (asyncpg) caches each connection's prepared statements. SQLAlchemy's asyncpg
# execution context drops them once the schema changed (dialects/postgresql/asyncpg.py,
# `pre_exec` and `handle_dbapi_exception`); these two do the same for a PreparedRead, which
# has no execution context. Elsewhere they do nothing.
_STALE_STATEMENT_ERRORS = ("InvalidCachedStatementError", "InternalServerError")


def _drop_stale_statements_before(dialect: Dialect, cursor: Any) -> None:
    if hasattr(cursor, "_invalidate_schema_cache_asof"):
        cursor._invalidate_schema_cache_asof = dialect._invalidate_schema_cache_asof  # type: ignore[attr-defined]


def _drop_stale_statements_after(dialect: Dialect, error: Exception) -> None:
    invalidate = getattr(dialect, "_invalidate_schema_cache", None)
    stale = tuple(
        getattr(dialect.loaded_dbapi, name)
        for name in _STALE_STATEMENT_ERRORS
        if hasattr(dialect.loaded_dbapi, name)
    )
    if invalidate is not None and isinstance(error, stale):
        invalidate()
