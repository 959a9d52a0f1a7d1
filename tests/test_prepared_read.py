"""A PreparedRead (models/prepared_read.py) answers as `session.execute` of its statement does,
values and types alike, inside the session's transaction and seen by the engine's events."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Date, bindparam, event, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from models import Committee
from models.database import create_session_factory
from models.prepared_read import PreparedRead
from models.tree import CommitteeKind

COLUMNS = (
    Committee.id,
    Committee.code,
    Committee.kind,
    Committee.path,
    Committee.closed_at,
    Committee.merged_into_id,
)
BY_CODE = select(
    *COLUMNS,
    # A date parameter and back: the driver's and SQLAlchemy's conversions both ways.
    bindparam("asked_on", type_=Date),
).where(Committee.code == bindparam("code"))
CLOSED_AT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def committee(code: str, committee_id: int, **values: Any) -> Committee:
    return Committee(
        id=committee_id,
        code=code,
        name=f"Chi bộ {code}",
        search_name=code.lower(),
        kind=CommitteeKind.CELL,
        depth=1,
        path=f"{committee_id:04d}",
        **values,
    )


async def test_values_and_types_are_those_of_session_execute(empty_engine: AsyncEngine) -> None:
    read = PreparedRead.of(BY_CODE, empty_engine.dialect)
    async with create_session_factory(empty_engine)() as session:
        session.add_all([committee("A", 1, closed_at=CLOSED_AT), committee("B", 2)])
        await session.flush()  # not committed: the read is in the session's transaction
        for code in ("A", "B"):
            parameters = {"code": code, "asked_on": date(2026, 12, 1)}
            expected = tuple((await session.execute(BY_CODE, parameters)).one())
            found = await read.one_or_none(session, parameters)
            assert found == expected
            assert found is not None
            assert [type(value) for value in found] == [type(value) for value in expected]
        found = await read.one_or_none(session, {"code": "A", "asked_on": date(2026, 12, 1)})
        assert found is not None
        assert found[2] is CommitteeKind.CELL
        # SQLite keeps no offset, so its driver answers naive UTC, as through the session.
        assert found[4] in (CLOSED_AT, CLOSED_AT.replace(tzinfo=None))
        assert found[6] == date(2026, 12, 1)


async def test_no_row_is_none_and_two_rows_are_an_error(empty_engine: AsyncEngine) -> None:
    async with create_session_factory(empty_engine)() as session:
        session.add_all([committee("A", 1), committee("B", 2)])
        await session.flush()
        by_code = PreparedRead.of(BY_CODE, empty_engine.dialect)
        missing = {"code": "nobody", "asked_on": date(2026, 12, 1)}
        assert await by_code.one_or_none(session, missing) is None
        every = PreparedRead.of(select(Committee.id), empty_engine.dialect)
        with pytest.raises(ValueError, match="2 rows where at most one was expected"):
            await every.one_or_none(session, {})


async def test_the_engine_cursor_events_see_it(empty_engine: AsyncEngine) -> None:
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    event.listen(empty_engine.sync_engine, "before_cursor_execute", before)
    read = PreparedRead.of(select(Committee.id).where(Committee.id == 1), empty_engine.dialect)
    async with create_session_factory(empty_engine)() as session:
        assert await read.one_or_none(session, {}) is None
    assert seen == [read.compiled.string]


# A change of the column's type, which PostgreSQL's cached plans of the read cannot survive.
SCHEMA_CHANGES = {
    "postgresql": "ALTER TABLE committee ALTER COLUMN name TYPE text",
    "sqlite": "ALTER TABLE committee ADD COLUMN note TEXT",
}


async def test_a_schema_change_costs_one_failed_read_at_most(
    empty_engine: AsyncEngine, backend: str
) -> None:
    """As through SQLAlchemy's execution layer: a read prepared before the change may fail
    once, wrapped as SQLAlchemy's DBAPIError, and the next one prepares it again."""
    read = PreparedRead.of(
        select(Committee.name).where(Committee.id == bindparam("id")), empty_engine.dialect
    )
    sessions = create_session_factory(empty_engine)
    async with sessions() as session:
        session.add(committee("A", 1))
        await session.commit()
        assert await read.one_or_none(session, {"id": 1}) == ("Chi bộ A",)
        await session.commit()  # the connection, with the read prepared on it, stays open
        await session.execute(text(SCHEMA_CHANGES[backend]))
        await session.commit()
        failures = 0
        for _ in range(2):
            try:
                assert await read.one_or_none(session, {"id": 1}) == ("Chi bộ A",)
            except DBAPIError:
                failures += 1
                await session.rollback()
        assert failures <= 1
        assert await read.one_or_none(session, {"id": 1}) == ("Chi bộ A",)


def test_parameters_only_execution_can_render_are_refused(empty_engine: AsyncEngine) -> None:
    expanding = select(Committee.id).where(Committee.id.in_(bindparam("ids", expanding=True)))
    with pytest.raises(ValueError, match="no expanding or literal-execute parameters"):
        PreparedRead.of(expanding, empty_engine.dialect)
