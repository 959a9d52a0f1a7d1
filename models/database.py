"""Engines and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import base64
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from models.shielded_session import ShieldedSession
from models.sqlite_driver import one_trip_dbapi

# How long a statement waits for a lock another transaction holds, unless the engine is
# given its own bound (a serving engine: CONGRESS_LOCK_WAIT_SECONDS); command-line work waits
# this long.
DEFAULT_LOCK_WAIT_SECONDS = 10.0
# A session factory's `info` key: the bound on a write's waits for locks across its retries.
LOCK_WAIT_INFO_KEY = "lock_wait_seconds"


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


# Connections kept open per worker. Beyond SQLAlchemy's default of 5, each request that
# found none idle opened one and closed it after: a new thread for aiosqlite, a new
# server session for PostgreSQL, on every request once more than 5 ran at once.
POOL_SIZE = 20
# SQLAlchemy's default: connections opened past the pool when all are busy, closed after.
POOL_OVERFLOW = 10
# The least page cache a SQLite connection is given, whatever the budget: a few B-tree
# levels' pages, which every statement walks.
SQLITE_MIN_CACHE_KIB = 64
# How much longer than PostgreSQL's statement timeout its driver waits for an answer.
DRIVER_WAIT_GRACE_SECONDS = 1.0


def create_engine(
    database_url: str,
    *,
    statement_timeout_seconds: float | None = None,
    sqlite_cache_kib: int | None = None,
    sqlite_max_size_mib: int = 0,
    lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS,
    pool_wait_seconds: float | None = None,
    application_name: str | None = None,
    **engine_options: Any,
) -> AsyncEngine:
    """An async engine; SQLite files get WAL, enforced foreign keys, a busy timeout and,
    with `sqlite_cache_kib`, that much page cache shared out among the connections the
    pool may open (None: SQLite's default, 2,000 KiB each), and with `sqlite_max_size_mib`
    a size past which writes fail as on a full disk (`max_page_count`; 0: none).
    With `statement_timeout_seconds`, PostgreSQL ends any statement running longer (a
    serving engine's backstop; SQLite's statements stop at their request's deadline
    instead, models/statement_deadline.py). A statement waits at most `lock_wait_seconds`
    for a lock (PostgreSQL's lock_timeout; SQLite's busy timeout and queue of writers), and
    a request at most `pool_wait_seconds` for a pooled connection (SQLAlchemy's 30 s when
    None); either then fails, and the edge answers UNAVAILABLE (graph/database_faults.py)."""
    url = make_url(database_url)
    if url.database != ":memory:":  # one connection, shared (StaticPool)
        engine_options.setdefault("pool_size", POOL_SIZE)
        engine_options.setdefault("max_overflow", POOL_OVERFLOW)
        if pool_wait_seconds is not None:
            engine_options.setdefault("pool_timeout", pool_wait_seconds)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # One trip to aiosqlite's thread per statement instead of four (models/sqlite_driver.py).
        engine_options.setdefault("module", one_trip_dbapi(write_wait_seconds=lock_wait_seconds))
        engine = create_async_engine(url, **engine_options)
        cache_kib_each = (
            None if sqlite_cache_kib is None else _cache_share_kib(sqlite_cache_kib, engine_options)
        )
        event.listen(
            engine.sync_engine,
            "connect",
            partial(
                _configure_sqlite_connection,
                cache_kib_each,
                round(lock_wait_seconds * 1000),
                sqlite_max_size_mib,
            ),
        )
        return engine
    engine_options.setdefault("pool_pre_ping", True)
    server_settings = engine_options.setdefault("connect_args", {}).setdefault(
        "server_settings", {}
    )
    server_settings.setdefault("lock_timeout", str(round(lock_wait_seconds * 1000)))
    if application_name is not None:
        # Who the connection is, in pg_stat_activity (a restore looks for servers there).
        server_settings["application_name"] = application_name
    if statement_timeout_seconds is not None:
        server_settings["statement_timeout"] = str(round(statement_timeout_seconds * 1000))
        # The same bound on the client's side, a little later so that a database that
        # answers ends the statement itself: a database or network that stops answering
        # without closing anything (no error ever comes) ends each wait here, so no step of
        # a request waits on it for ever (graph/database_faults.py: STALLED).
        engine_options["connect_args"].setdefault(
            "command_timeout", statement_timeout_seconds + DRIVER_WAIT_GRACE_SECONDS
        )
    if pool_wait_seconds is not None:
        # Opening a connection is waiting for one too (asyncpg's own bound is 60 s).
        engine_options["connect_args"].setdefault("timeout", pool_wait_seconds)
    engine = create_async_engine(url, **engine_options)
    event.listen(engine.sync_engine, "handle_error", _timed_out_is_disconnected)
    return engine


def _timed_out_is_disconnected(context: ExceptionContext) -> None:
    """A statement the driver gave up waiting for (`command_timeout`) leaves its connection
    in no state to be used again, or even rolled back: the database may never answer it.
    The pool lets it go (terminated, not closed politely) rather than wait on it again."""
    if isinstance(context.original_exception, TimeoutError):
        context.is_disconnect = True


def _cache_share_kib(budget_kib: int, engine_options: dict[str, Any]) -> int:
    """One connection's share of the budget: each keeps a private cache, so the budget is
    split by the most connections the pool may open (its size, plus its overflow when
    that is bounded; a single shared connection has no pool size)."""
    pool_size: int = max(engine_options.get("pool_size", 1), 1)
    overflow: int = max(engine_options.get("max_overflow", 0), 0)
    return max(budget_kib // (pool_size + overflow), SQLITE_MIN_CACHE_KIB)


def _configure_sqlite_connection(
    cache_kib: int | None,
    busy_timeout_ms: int,
    max_size_mib: int,
    dbapi_connection: Any,
    _connection_record: Any,
) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    if cache_kib is not None:
        cursor.execute(f"PRAGMA cache_size=-{cache_kib}")  # negative: KiB, not pages
    if max_size_mib > 0:
        # Per connection, in pages; SQLite keeps it at least the database's present size.
        cursor.execute("PRAGMA page_size")
        (page_size,) = cursor.fetchone()
        cursor.execute(f"PRAGMA max_page_count={max_size_mib * 2**20 // page_size}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    # WAL with synchronous=NORMAL is durable against application crashes and much faster.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # Global ids and cursors are base64 text; PostgreSQL has encode(), SQLite needs these
    # (answers the planner builds in SQL, graph/planner/sql.py).
    dbapi_connection.create_function("congress_b64", 1, _base64_text, deterministic=True)
    dbapi_connection.create_function("congress_b64url", 1, _urlsafe_base64_text, deterministic=True)


def _base64_text(value: str | None) -> str | None:
    return None if value is None else base64.b64encode(value.encode()).decode()


def _urlsafe_base64_text(value: str | None) -> str | None:
    return None if value is None else base64.urlsafe_b64encode(value.encode()).decode()


def create_session_factory(
    engine: AsyncEngine, *, lock_wait_seconds: float | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions on `engine`. With `lock_wait_seconds`, a write run by the unit of work
    stops retrying on locks once it has waited that long in all (domain/unit_of_work.py)."""
    # Statements run to their end even when a caller is cancelled (models/shielded_session.py).
    return async_sessionmaker(
        engine,
        class_=ShieldedSession,
        expire_on_commit=False,
        info={} if lock_wait_seconds is None else {LOCK_WAIT_INFO_KEY: lock_wait_seconds},
    )


def lock_wait_budget(sessions: AsyncSession | async_sessionmaker[AsyncSession]) -> float | None:
    """The bound on a write's waits for locks that the session (or factory) was made with."""
    info = sessions.info if isinstance(sessions, AsyncSession) else sessions.kw.get("info", {})
    budget = info.get(LOCK_WAIT_INFO_KEY)
    return None if budget is None else float(budget)


async def advance_id_sequence(executor: AsyncConnection | AsyncSession, table_name: str) -> None:
    """After inserting rows with explicit ids, make the next generated id follow them.

    Bulk loads (the demo, tree imports) assign ids themselves so paths can be computed
    before the insert. SQLite continues after max(id) on its own; a PostgreSQL sequence does
    not. (setval is not undone by a rollback; the gap that leaves is harmless.)
    """
    bind = executor.get_bind() if isinstance(executor, AsyncSession) else executor
    if bind.dialect.name != "postgresql":
        return
    await executor.execute(
        text(
            f"SELECT setval(pg_get_serial_sequence('{table_name}', 'id'), "
            f"(SELECT max(id) FROM {table_name}))"
        )
    )


async def begin_read_snapshot(session: AsyncSession) -> None:
    """Make the session's next reads come from one snapshot, so that a long read in pages
    (an export) cannot see rows written meanwhile disagree (a committee moved between two
    pages, counters half updated).

    Ends the session's current transaction, then begins a read-only repeatable
    read on PostgreSQL, or a deferred transaction on SQLite, whose first read fixes the
    snapshot in WAL mode (the driver would otherwise run every SELECT on its own). The
    session closes it when it ends.
    """
    await session.rollback()
    if session.get_bind().dialect.name == "postgresql":
        await session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )
        return
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    if driver is not None and not driver.in_transaction:
        await connection.exec_driver_sql("BEGIN")
