"""The change feed is read in commit order: a reader that has seen everything up to a
position and asks for what came after never misses a row, even when two writers draw
positions in one order and try to commit in the other (models/change_feed.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from models import Committee, Term
from models.change_feed import FEED_LOCK_KEY, append_change, changes_after
from tests.conftest import DemoWorld

# Long enough for a blocked insert to show it is blocked, on a slow machine.
BLOCKED_FOR_SECONDS = 0.5


async def a_committee_and_term(engine: AsyncEngine) -> dict[str, Any]:
    async with engine.connect() as connection:
        committee = (
            await connection.execute(
                select(Committee.id, Committee.path).where(Committee.code == "T01")
            )
        ).one()
        term_id = await connection.scalar(select(Term.id).limit(1))
    return {"committee_id": committee.id, "committee_path": committee.path, "term_id": term_id}


async def read_feed(engine: AsyncEngine, after: int = 0) -> list[tuple[int, str]]:
    async with AsyncSession(engine) as session:
        return [(entry.position, entry.kind) for entry in await changes_after(session, after, 100)]


async def test_rows_come_back_in_order_after_a_position_and_cannot_change(
    fresh_world: DemoWorld,
) -> None:
    where = await a_committee_and_term(fresh_world.engine)
    async with AsyncSession(fresh_world.engine) as session, session.begin():
        for kind in ("MILESTONE", "RESULTS", "DIFFICULTY_RAISED"):
            append_change(session, kind=kind, payload={"n": kind}, **where)
    rows = await read_feed(fresh_world.engine)
    assert [kind for _position, kind in rows] == ["MILESTONE", "RESULTS", "DIFFICULTY_RAISED"]
    positions = [position for position, _kind in rows]
    assert positions == sorted(positions)
    assert len(set(positions)) == 3
    assert await read_feed(fresh_world.engine, after=positions[0]) == rows[1:]
    for statement in ("UPDATE change_feed SET kind = 'X'", "DELETE FROM change_feed"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with fresh_world.engine.begin() as connection:
                await connection.execute(text(statement))


async def test_a_later_writer_waits_for_the_earlier_one_and_no_reader_skips_a_row(
    fresh_world: DemoWorld, backend: str
) -> None:
    """The first writer draws its position and holds its transaction open; the second,
    which would commit first, cannot draw one until the first has committed. A reader
    polling meanwhile never sees the second's row without the first's."""
    where = await a_committee_and_term(fresh_world.engine)
    first = AsyncSession(fresh_world.engine)
    second = AsyncSession(fresh_world.engine)
    try:
        await first.begin()
        earlier = append_change(first, kind="EARLIER", payload={}, **where)
        await first.flush()
        earlier_position = earlier.position

        async def later_writer() -> int:
            await second.begin()
            later = append_change(second, kind="LATER", payload={}, **where)
            await second.flush()
            position = later.position
            await second.commit()
            return position

        later = asyncio.create_task(later_writer())
        await asyncio.sleep(BLOCKED_FOR_SECONDS)
        assert not later.done(), "the later writer drew a position before the earlier committed"
        if backend == "postgresql":
            # It waits for the feed's turn (the trigger's advisory lock), nothing else.
            async with fresh_world.engine.connect() as connection:
                waiting = await connection.scalar(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND objid = :key AND NOT granted"
                    ),
                    {"key": FEED_LOCK_KEY},
                )
            assert waiting == 1
        assert await read_feed(fresh_world.engine) == []
        await first.commit()
        later_position = await asyncio.wait_for(later, timeout=10)
    finally:
        await first.close()
        await second.close()
    assert earlier_position < later_position
    assert await read_feed(fresh_world.engine) == [
        (earlier_position, "EARLIER"),
        (later_position, "LATER"),
    ]


async def test_a_rolled_back_writer_leaves_no_row_and_lets_the_next_one_on(
    fresh_world: DemoWorld,
) -> None:
    where = await a_committee_and_term(fresh_world.engine)
    first = AsyncSession(fresh_world.engine)
    second = AsyncSession(fresh_world.engine)
    try:
        await first.begin()
        append_change(first, kind="ABANDONED", payload={}, **where)
        await first.flush()

        async def next_writer() -> None:
            await second.begin()
            append_change(second, kind="KEPT", payload={}, **where)
            await second.flush()
            await second.commit()

        kept = asyncio.create_task(next_writer())
        await asyncio.sleep(BLOCKED_FOR_SECONDS)
        assert not kept.done()
        await first.rollback()
        await asyncio.wait_for(kept, timeout=10)
    finally:
        await first.close()
        await second.close()
    assert [kind for _position, kind in await read_feed(fresh_world.engine)] == ["KEPT"]
