"""The per-process catalog of terms and templates: read once in a while, never stale longer."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import event, literal, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from graph.term_catalog import DEFAULT_MAX_AGE_SECONDS, STATEMENTS_PER_READ, TermCatalog
from models import Role, Term
from models.congress import DEFAULT_MILESTONES, default_milestone_templates
from models.database import create_engine
from models.demo import CENTRAL_CODE
from models.migrate import upgrade_database
from tests.api import GraphQLClient, app_client
from tests.conftest import DemoWorld, demo_user


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
    catalog = TermCatalog(clock=clock)
    statements = counted(empty_engine)
    async with AsyncSession(empty_engine) as session:
        snapshot = await catalog.snapshot(session)
        assert len(statements) == STATEMENTS_PER_READ
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
        assert await catalog.snapshot(session) is snapshot
    assert len(statements) == STATEMENTS_PER_READ


async def test_a_new_current_term_shows_once_the_catalog_is_old(empty_engine: AsyncEngine) -> None:
    await add_term(empty_engine, "2020-2025", date(2020, 1, 1))
    clock = FakeClock()
    catalog = TermCatalog(clock=clock)
    async with AsyncSession(empty_engine) as session:
        before = await catalog.snapshot(session)
    second_id = await add_term(empty_engine, "2025-2030", date(2025, 1, 1))
    async with AsyncSession(empty_engine) as session:
        assert (await catalog.snapshot(session)).current == before.current
        clock.now += DEFAULT_MAX_AGE_SECONDS
        after = await catalog.snapshot(session)
    assert after.current is not None
    assert after.current.id == second_id
    assert len(after.templates_of(second_id)) == len(DEFAULT_MILESTONES)


async def test_the_objects_outlive_the_session_that_read_them(empty_engine: AsyncEngine) -> None:
    term_id = await add_term(empty_engine, "2020-2025", date(2020, 1, 1))
    async with AsyncSession(empty_engine) as session:
        snapshot = await TermCatalog().snapshot(session)
        # A request that writes commits its session, which expires what it holds.
        await session.commit()
    term = snapshot.current
    assert term is not None
    # Transient objects: readable after the commit and the close, with no lazy load.
    assert (term.id, term.code, term.starts_on) == (term_id, "2020-2025", date(2020, 1, 1))
    assert snapshot.templates_of(term_id)[0].name == DEFAULT_MILESTONES[0][1]


async def test_requests_finding_the_catalog_old_together_read_it_once(
    empty_engine: AsyncEngine,
) -> None:
    await add_term(empty_engine, "2020-2025", date(2020, 1, 1))
    catalog = TermCatalog()
    statements = counted(empty_engine)
    async with AsyncSession(empty_engine) as first, AsyncSession(empty_engine) as second:
        snapshots = await asyncio.gather(
            *(catalog.snapshot(session) for session in [first, second] * 50)
        )
    assert len(statements) == STATEMENTS_PER_READ
    assert all(snapshot is snapshots[0] for snapshot in snapshots)


async def test_reading_needs_no_connection_beyond_the_requests_own(tmp_path: Path) -> None:
    # Requests waiting for the catalog hold their connections: with every connection of
    # the pool taken, the read must still happen (on one of theirs).
    engine = create_engine(
        f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}", pool_size=2, max_overflow=0, pool_timeout=1
    )
    await upgrade_database(engine)
    await add_term(engine, "2020-2025", date(2020, 1, 1))
    catalog = TermCatalog()
    async with AsyncSession(engine) as first, AsyncSession(engine) as second:
        for session in (first, second):
            await session.execute(select(literal(1)))  # each holds a connection now
        snapshots = await asyncio.gather(catalog.snapshot(first), catalog.snapshot(second))
    assert snapshots[0] is snapshots[1]
    await engine.dispose()


async def test_a_waiter_giving_up_does_not_cancel_the_read(empty_engine: AsyncEngine) -> None:
    await add_term(empty_engine, "2020-2025", date(2020, 1, 1))
    catalog = TermCatalog()
    async with AsyncSession(empty_engine) as first, AsyncSession(empty_engine) as second:
        starter = asyncio.create_task(catalog.snapshot(first))
        waiter = asyncio.create_task(catalog.snapshot(second))
        await asyncio.sleep(0)  # both are waiting for the one read
        starter.cancel()
        snapshot = await waiter
    assert snapshot.current is not None
    with pytest.raises(asyncio.CancelledError):
        await starter


async def test_many_requests_on_a_cold_catalog_and_a_small_pool_all_get_answers(
    demo_world: DemoWorld,
) -> None:
    engine = create_engine(demo_world.database_url, pool_size=3, max_overflow=0, pool_timeout=5)
    async with app_client(demo_world.settings, engine) as http:
        client = GraphQLClient(http, demo_world.client.issuer)
        summary = '{ committee(code: "TW") { progress { total byMilestone { done } } } }'
        answers = await asyncio.gather(
            *(client.query(demo_user(Role.VIEWER, CENTRAL_CODE), summary) for _ in range(12))
        )
    assert all(answer == answers[0] for answer in answers)
    await engine.dispose()
