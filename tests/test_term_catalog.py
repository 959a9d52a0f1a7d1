"""The per-process catalog of terms and templates: read once in a while, never stale longer."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from graph.term_catalog import DEFAULT_MAX_AGE_SECONDS, TermCatalog
from models import Term
from models.congress import DEFAULT_MILESTONES, default_milestone_templates


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def add_term(engine: AsyncEngine, code: str, starts_on: date) -> int:
    async with AsyncSession(engine) as session, session.begin():
        await session.execute(update(Term).values(is_current=False))
        term = Term(
            code=code,
            name=f"Nhiệm kỳ {code}",
            starts_on=starts_on,
            ends_on=starts_on.replace(year=starts_on.year + 5),
            is_current=True,
        )
        session.add(term)
        await session.flush()
        session.add_all(default_milestone_templates(term.id))
        return term.id


def counted(engine: AsyncEngine) -> list[str]:
    statements: list[str] = []
    event.listen(
        engine.sync_engine,
        "before_cursor_execute",
        lambda *args: statements.append(str(args[2])),
    )
    return statements


async def test_terms_are_read_once_until_they_are_old(empty_engine: AsyncEngine) -> None:
    first_id = await add_term(empty_engine, "2020-2025", date(2020, 1, 1))
    clock = FakeClock()
    catalog = TermCatalog(async_sessionmaker(empty_engine), clock=clock)
    statements = counted(empty_engine)
    snapshot = await catalog.snapshot()
    assert len(statements) == 2  # the terms, the templates
    current = snapshot.current
    assert current is not None
    assert current.id == first_id
    assert [t.code for t in snapshot.templates_of(first_id)] == [
        code for code, _name in DEFAULT_MILESTONES
    ]
    assert snapshot.named("2020-2025") is current
    assert snapshot.named("1990-1995") is None
    assert snapshot.templates_of(first_id + 100) == []
    clock.now += DEFAULT_MAX_AGE_SECONDS - 0.1
    assert await catalog.snapshot() is snapshot
    assert len(statements) == 2


async def test_a_new_current_term_shows_once_the_catalog_is_old(empty_engine: AsyncEngine) -> None:
    await add_term(empty_engine, "2020-2025", date(2020, 1, 1))
    clock = FakeClock()
    catalog = TermCatalog(async_sessionmaker(empty_engine), clock=clock)
    before = await catalog.snapshot()
    second_id = await add_term(empty_engine, "2025-2030", date(2025, 1, 1))
    assert (await catalog.snapshot()).current == before.current
    clock.now += DEFAULT_MAX_AGE_SECONDS
    after = await catalog.snapshot()
    assert after.current is not None
    assert after.current.id == second_id
    assert len(after.templates_of(second_id)) == len(DEFAULT_MILESTONES)


async def test_the_objects_outlive_the_session_that_read_them(empty_engine: AsyncEngine) -> None:
    term_id = await add_term(empty_engine, "2020-2025", date(2020, 1, 1))
    snapshot = await TermCatalog(async_sessionmaker(empty_engine)).snapshot()
    term = snapshot.current
    assert term is not None
    # Transient objects: readable after their session closed, with no lazy load.
    assert (term.id, term.code, term.starts_on) == (term_id, "2020-2025", date(2020, 1, 1))
    assert snapshot.templates_of(term_id)[0].name == DEFAULT_MILESTONES[0][1]


async def test_requests_finding_the_catalog_old_together_read_it_once(
    empty_engine: AsyncEngine,
) -> None:
    await add_term(empty_engine, "2020-2025", date(2020, 1, 1))
    catalog = TermCatalog(async_sessionmaker(empty_engine))
    statements = counted(empty_engine)
    snapshots = await asyncio.gather(*(catalog.snapshot() for _ in range(100)))
    assert len(statements) == 2
    assert all(snapshot is snapshots[0] for snapshot in snapshots)


async def test_a_waiter_giving_up_does_not_cancel_the_read(empty_engine: AsyncEngine) -> None:
    await add_term(empty_engine, "2020-2025", date(2020, 1, 1))
    catalog = TermCatalog(async_sessionmaker(empty_engine))
    first = asyncio.create_task(catalog.snapshot())
    second = asyncio.create_task(catalog.snapshot())
    await asyncio.sleep(0)  # both are waiting for the one read
    first.cancel()
    snapshot = await second
    assert snapshot.current is not None
    with pytest.raises(asyncio.CancelledError):
        await first
