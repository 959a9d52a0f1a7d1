"""The one-trip aiosqlite cursor: the same results, metadata and errors, one trip each."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from models.database import create_engine
from models.sqlite_driver import OneTripCursor
from models.statement_deadline import StatementDeadlinePassed, statement_deadline


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with engine.begin() as connection:
        await connection.execute(
            text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INTEGER)")
        )
    yield engine
    await engine.dispose()


async def test_engines_for_sqlite_use_the_one_trip_cursor(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        assert isinstance(raw.driver_connection, aiosqlite.Connection)
        assert isinstance(raw.dbapi_connection.cursor(), OneTripCursor)  # type: ignore[union-attr]


async def test_rows_and_what_sqlalchemy_reads_after_a_statement(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        inserted = await connection.execute(text("INSERT INTO item (name, n) VALUES ('a', 1)"))
        assert inserted.lastrowid == 1
        many = await connection.execute(
            text("INSERT INTO item (name, n) VALUES (:name, :n)"),
            [{"name": "b", "n": 2}, {"name": "c", "n": 3}],
        )
        assert many.rowcount == 2
        returned = await connection.execute(
            text("INSERT INTO item (name, n) VALUES ('d', 4) RETURNING id, name")
        )
        assert [dict(row) for row in returned.mappings()] == [{"id": 4, "name": "d"}]
        updated = await connection.execute(text("UPDATE item SET n = n + 10 WHERE n > 1"))
        assert updated.rowcount == 3
        rows = await connection.execute(text("SELECT name, n FROM item ORDER BY id"))
        assert list(rows.keys()) == ["name", "n"]
        assert rows.all() == [("a", 1), ("b", 12), ("c", 13), ("d", 14)]
        empty = await connection.execute(text("SELECT name FROM item WHERE n < 0"))
        assert list(empty.keys()) == ["name"]
        assert empty.all() == []


async def test_errors_keep_their_kind_and_the_transaction_rolls_back(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO item (name, n) VALUES ('a', 1)"))
    async with engine.connect() as connection:
        await connection.execute(text("INSERT INTO item (name, n) VALUES ('b', 2)"))
        with pytest.raises(IntegrityError):
            await connection.execute(text("INSERT INTO item (name, n) VALUES ('a', 3)"))
        await connection.rollback()
    async with engine.connect() as connection:
        names = (await connection.execute(text("SELECT name FROM item"))).scalars().all()
    assert names == ["a"]


async def test_a_statement_is_one_trip_to_the_connections_thread(
    engine: AsyncEngine, driver_trips: list[Any]
) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))  # connected and warmed up
        driver_trips.clear()
        for _ in range(5):
            await connection.execute(text("SELECT name FROM item"))
        assert len(driver_trips) == 5


async def test_a_rollback_with_nothing_to_undo_makes_no_trip(
    engine: AsyncEngine, driver_trips: list[Any]
) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
        driver_trips.clear()
        await connection.rollback()
        assert driver_trips == []
        await connection.execute(text("INSERT INTO item (name, n) VALUES ('a', 1)"))
        driver_trips.clear()
        await connection.rollback()  # a write is open: undone in the connection's thread
        assert len(driver_trips) == 1
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM item"))).scalar_one() == 0


async def test_writers_take_sqlites_lock_in_the_order_they_asked(engine: AsyncEngine) -> None:
    """The first writer holds the lock; those after it wait in order, not in SQLite's busy
    handler, and each gets it as soon as the one before commits."""
    order: list[str] = []
    first_holds = asyncio.Event()

    async def write(name: str, hold_seconds: float = 0.0) -> None:
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO item (name, n) VALUES (:name, 1)"), {"name": name}
            )
            order.append(name)
            if name == "first":
                first_holds.set()
            await asyncio.sleep(hold_seconds)

    holder = asyncio.create_task(write("first", hold_seconds=0.2))
    await first_holds.wait()
    waiters = []
    for name in ("second", "third", "fourth"):
        waiters.append(asyncio.create_task(write(name)))
        await asyncio.sleep(0.01)  # they ask in this order
    await asyncio.gather(holder, *waiters)
    assert order == ["first", "second", "third", "fourth"]


async def test_the_lock_is_given_back_however_the_transaction_ends(engine: AsyncEngine) -> None:
    async def insert_twice(name: str) -> None:
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO item (name, n) VALUES (:name, 1)"), {"name": name}
            )
            await connection.execute(
                text("INSERT INTO item (name, n) VALUES (:name, 2)"), {"name": name}
            )

    async with engine.connect() as connection:
        await connection.execute(text("INSERT INTO item (name, n) VALUES ('a', 1)"))
        await connection.rollback()
    with pytest.raises(IntegrityError):
        await insert_twice("b")
    async with engine.connect() as connection:
        await connection.execute(text("INSERT INTO item (name, n) VALUES ('c', 1)"))
        await connection.invalidate()  # the connection closed with its transaction open
    async with asyncio.timeout(2):  # each of the above let go: no wait here
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO item (name, n) VALUES ('d', 1)"))
    async with engine.connect() as connection:
        names = (await connection.execute(text("SELECT name FROM item ORDER BY name"))).scalars()
        assert list(names) == ["d"]


async def test_a_writer_waiting_for_its_turn_stops_at_its_request_s_deadline(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as holder:
        await holder.execute(text("INSERT INTO item (name, n) VALUES ('held', 1)"))
        async with engine.connect() as waiter:
            token = statement_deadline.set(time.monotonic() + 0.1)
            try:
                started = time.monotonic()
                with pytest.raises(StatementDeadlinePassed):
                    await waiter.execute(text("INSERT INTO item (name, n) VALUES ('late', 1)"))
                assert time.monotonic() - started < 1
            finally:
                statement_deadline.reset(token)
        await holder.commit()
    async with engine.begin() as connection:  # the waiter gave up its place: no wait here
        await connection.execute(text("INSERT INTO item (name, n) VALUES ('next', 1)"))


async def test_the_page_cache_budget_is_shared_out_among_the_pool(tmp_path: Path) -> None:
    # Each SQLite connection keeps a private page cache: a worker's budget is split by the
    # most connections its pool may open (20 + 10 overflow), not given to each.
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cache.db'}", sqlite_cache_kib=6000)
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(text("PRAGMA cache_size")) == -200
    finally:
        await engine.dispose()
    small_pool = create_engine(
        f"sqlite+aiosqlite:///{tmp_path / 'cache.db'}",
        sqlite_cache_kib=1000,
        pool_size=2,
        max_overflow=0,
    )
    try:
        async with small_pool.connect() as connection:
            assert await connection.scalar(text("PRAGMA cache_size")) == -500
    finally:
        await small_pool.dispose()
