"""Scoped reads of congress progress across subtrees: rollups, overdue lists, recent events.

A rollup row counts the subtree of its committee; every committee asked for is checked
against the scope here, and a subtree of a visible committee lies entirely in scope.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    func,
    literal,
    null,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from models import (
    Committee,
    Congress,
    CongressEvent,
    CongressReport,
    ProgressRollup,
    ProgressRollupDay,
    ReportDeadline,
    ReportState,
    rollups,
)
from models.progress_summary import (
    DUE_SOON,
    EVERY_COUNTER,
    OVERDUE,
    REPORTS_OVERDUE,
    Counter,
    CountersWanted,
)
from models.tree import subtree_condition
from permissions.scope import Scope


def _visible_committees(scope: Scope, committee_ids: Sequence[int]) -> Select[Any]:
    return select(Committee.id).where(
        Committee.id.in_(committee_ids), scope.condition(Committee.path)
    )


def _packed_counters(dialect: str, wanted: CountersWanted) -> Select[Any]:
    """The statement of `subtree_counters`: the `wanted` counters of the committees whose ids
    are in the list parameter `committee_ids`, level by level or summed over the subtree."""
    term_id = bindparam("term_id", type_=Integer)
    today = bindparam("today", type_=Date)
    committee_ids = bindparam("committee_ids", expanding=True, type_=Integer)
    measures: list[ColumnElement[bool]] = []
    stored_scalars = wanted.stored_scalars()
    if stored_scalars:
        measures.append(ProgressRollup.measure.in_(stored_scalars))
    if wanted.milestones:
        measures.append(ProgressRollup.measure.startswith(rollups.MILESTONE_PREFIX))
    if wanted.result_sums:
        measures.append(ProgressRollup.measure.in_(rollups.RESULT_SUMS))
    parts: list[Select[int, int, str, int]] = []
    if measures:
        kept = select(
            ProgressRollup.committee_id,
            ProgressRollup.levels_below,
            ProgressRollup.measure,
            ProgressRollup.value,
        ).where(
            ProgressRollup.committee_id.in_(committee_ids),
            ProgressRollup.term_id == term_id,
            ProgressRollup.value != 0,
            or_(*measures),
        )
        parts.append(kept)
    if wanted.deadlines:
        day = ProgressRollupDay.day
        parts.append(
            select(
                ProgressRollupDay.committee_id,
                ProgressRollupDay.levels_below,
                case((day < today, literal(OVERDUE)), else_=literal(DUE_SOON)).label("measure"),
                ProgressRollupDay.value,
            ).where(
                ProgressRollupDay.committee_id.in_(committee_ids),
                ProgressRollupDay.term_id == term_id,
                ProgressRollupDay.kind == rollups.DEADLINE,
                day < bindparam("soon_until", type_=Date),
            )
        )
    if wanted.report_deadlines:
        parts.append(_overdue_reports(committee_ids, term_id, today))
    rows = union_all(*parts).subquery("counters")
    # Grouped outside the union: PostgreSQL cannot tell that a CASE with bound values in the
    # select list and the same CASE in GROUP BY are one expression.
    keys = [rows.c.committee_id, rows.c.measure]
    if wanted.by_level:
        keys.append(rows.c.levels_below)
    levels = rows.c.levels_below if wanted.by_level else null().label("levels_below")
    counters = (
        select(rows.c.committee_id, levels, rows.c.measure, func.sum(rows.c.value))
        .group_by(*keys)
        .subquery("grouped")
    )
    # Packed into one JSON value: on SQLite each row fetched is a hand-off of the GIL
    # between the driver's thread and the server's (dozens at the centre, a few at a cell).
    pack, array = (
        (func.json_agg, func.json_build_array)
        if dialect == "postgresql"
        else (func.json_group_array, func.json_array)
    )
    return select(pack(array(*counters.c), type_=JSON))


def _overdue_reports(
    committee_ids: BindParameter[Any], term_id: BindParameter[int], today: BindParameter[date]
) -> Select[Any]:
    """REPORTS_OVERDUE by level: at each level whose report deadline has passed, its
    congresses (`total`) less its approved reports, as rows summed with the others. From
    the level's counters, so a report turning overdue at midnight needs no write."""
    approved = rollups.REPORT_PREFIX + ReportState.APPROVED.value
    level_depth = Committee.depth + ProgressRollup.levels_below
    return (
        select(
            ProgressRollup.committee_id,
            ProgressRollup.levels_below,
            literal(REPORTS_OVERDUE).label("measure"),
            case(
                (ProgressRollup.measure == rollups.TOTAL, ProgressRollup.value),
                else_=-ProgressRollup.value,
            ).label("value"),
        )
        .join(Committee, Committee.id == ProgressRollup.committee_id)
        .join(
            ReportDeadline,
            and_(
                ReportDeadline.term_id == ProgressRollup.term_id,
                ReportDeadline.depth == level_depth,
            ),
        )
        .where(
            ProgressRollup.committee_id.in_(committee_ids),
            ProgressRollup.term_id == term_id,
            ProgressRollup.measure.in_([rollups.TOTAL, approved]),
            ReportDeadline.due_on < today,
        )
    )


# Built once per dialect and selection (a handful): a summary is read on every dashboard,
# and building the expression (and its cache key) for each request cost more than running it.
_subtree_counters_statement = lru_cache(maxsize=64)(_packed_counters)


def _counter_parameters(term_id: int, today: date, due_soon_days: int) -> dict[str, Any]:
    return {
        "term_id": term_id,
        "today": today,
        "soon_until": today + timedelta(days=due_soon_days + 1),
    }


def _unpacked(packed: Sequence[Sequence[Any]] | None) -> list[Counter]:
    return [(c, levels, measure, int(value)) for c, levels, measure, value in packed or ()]


async def subtree_counters(
    session: AsyncSession,
    scope: Scope,
    committees: Mapping[int, str],
    term_id: int,
    *,
    today: date,
    due_soon_days: int,
    wanted: CountersWanted = EVERY_COUNTER,
) -> list[Counter]:
    """(committee, levels below, measure, value) of the committees' rollups in a term and,
    as the measures OVERDUE and DUE_SOON, their congresses not yet held whose deadline has
    passed or falls within `due_soon_days` from `today`, in one statement: the `wanted`
    measures only, and with levels below None (summed over the subtree) unless it wants
    them level by level.

    `committees` maps ids to the paths the caller read with them. The scope is checked on
    those paths here rather than by joining the tree in SQL: rollups are keyed by committee
    only, and a committee outside the scope gets no rows at all."""
    visible_ids = [
        committee_id for committee_id, path in committees.items() if scope.contains(path)
    ]
    if not visible_ids or wanted.is_empty:
        return []
    packed = await session.scalar(
        _subtree_counters_statement(session.get_bind().dialect.name, wanted),
        {"committee_ids": visible_ids, **_counter_parameters(term_id, today, due_soon_days)},
    )
    return _unpacked(packed)


async def held_by_day(
    session: AsyncSession,
    scope: Scope,
    committee_ids: Sequence[int],
    term_id: int,
    *,
    start: date,
    end: date,
) -> tuple[dict[int, int], dict[int, list[tuple[date, int]]]]:
    """Congresses held before `start`, and on each day from `start` to `end`, per committee."""
    visible = _visible_committees(scope, committee_ids)
    day = ProgressRollupDay.day
    held = (
        ProgressRollupDay.committee_id.in_(visible),
        ProgressRollupDay.term_id == term_id,
        ProgressRollupDay.kind == rollups.HELD_ON,
    )
    before_rows = await session.execute(
        select(ProgressRollupDay.committee_id, func.sum(ProgressRollupDay.value))
        .where(*held, day < start)
        .group_by(ProgressRollupDay.committee_id)
    )
    day_rows = await session.execute(
        select(ProgressRollupDay.committee_id, day, func.sum(ProgressRollupDay.value))
        .where(*held, day >= start, day <= end)
        .group_by(ProgressRollupDay.committee_id, day)
    )
    before = {committee_id: int(count) for committee_id, count in before_rows}
    by_day: dict[int, list[tuple[date, int]]] = {}
    for committee_id, held_on, count in day_rows:
        by_day.setdefault(committee_id, []).append((held_on, int(count)))
    return before, by_day


def overdue_conditions(
    scope: Scope, under_path: str, term_id: int, today: date
) -> list[ColumnElement[bool]]:
    return [
        Congress.term_id == term_id,
        Congress.deadline < today,
        Congress.held_on.is_(None),
        Committee.closed_at.is_(None),
        subtree_condition(Committee.path, under_path),
        scope.condition(Committee.path),
    ]


async def overdue_page(
    session: AsyncSession,
    scope: Scope,
    under_path: str,
    term_id: int,
    *,
    today: date,
    limit: int,
    after_id: int | None,
) -> list[Congress]:
    """Overdue congresses below `under_path`, the latest first (earliest deadline), then by id.
    A page continues after the cursor's congress even if it has been held since; a cursor
    naming a congress out of scope matches nothing."""
    return await _congress_page(
        session,
        scope,
        overdue_conditions(scope, under_path, term_id, today),
        Congress.deadline,
        limit=limit,
        after_id=after_id,
    )


async def overdue_count(
    session: AsyncSession, scope: Scope, under_path: str, term_id: int, *, today: date
) -> int:
    return await _congress_count(session, overdue_conditions(scope, under_path, term_id, today))


def _with_committee(statement: Select[Any], *, report: bool = False) -> Select[Any]:
    """A statement from `congress`, joined to its committee (the scope and subtree are
    conditions on its path) and, with `report`, to its report."""
    if report:
        statement = statement.join(CongressReport, CongressReport.congress_id == Congress.id)
    return statement.join(Committee, Committee.id == Congress.committee_id)


async def _congress_page(
    session: AsyncSession,
    scope: Scope,
    conditions: Sequence[ColumnElement[bool]],
    order: InstrumentedAttribute[Any],
    *,
    limit: int,
    after_id: int | None,
    report: bool = False,
) -> list[Congress]:
    """Congresses meeting `conditions` (on the report too, with `report`), in (`order`, id)
    order, `limit` of them after the cursor's congress. The cursor is found again in scope
    only (one out of scope matches nothing); the page continues after it even if it no
    longer meets the conditions."""
    keyset = [*conditions]
    if after_id is not None:
        cursor_order = (
            _with_committee(select(order).select_from(Congress), report=report)
            .where(Congress.id == after_id, scope.condition(Committee.path))
            .scalar_subquery()
        )
        keyset.append(tuple_(order, Congress.id) > tuple_(cursor_order, after_id))
    rows = await session.scalars(
        _with_committee(select(Congress), report=report)
        .where(*keyset)
        .order_by(order, Congress.id)
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def _congress_count(
    session: AsyncSession, conditions: Sequence[ColumnElement[bool]], *, report: bool = False
) -> int:
    statement = _with_committee(select(func.count()).select_from(Congress), report=report)
    return int(await session.scalar(statement.where(*conditions)) or 0)


def _recent_conditions(scope: Scope, under_path: str) -> list[ColumnElement[bool]]:
    return [subtree_condition(Committee.path, under_path), scope.condition(Committee.path)]


async def recent_events_page(
    session: AsyncSession, scope: Scope, under_path: str, *, limit: int, after_id: int | None
) -> list[CongressEvent]:
    """The newest congress events of every term below `under_path`, newest first."""
    conditions = _recent_conditions(scope, under_path)
    if after_id is not None:
        conditions.append(CongressEvent.id < after_id)
    rows = await session.scalars(
        select(CongressEvent)
        .join(Congress, Congress.id == CongressEvent.congress_id)
        .join(Committee, Committee.id == Congress.committee_id)
        .where(*conditions)
        .order_by(CongressEvent.id.desc())
        .limit(limit)
    )
    return list(rows)


async def recent_events_count(session: AsyncSession, scope: Scope, under_path: str) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(CongressEvent)
        .join(Congress, Congress.id == CongressEvent.congress_id)
        .join(Committee, Committee.id == Congress.committee_id)
        .where(*_recent_conditions(scope, under_path))
    )
    return int(count or 0)


async def committees_at_depth(
    session: AsyncSession,
    scope: Scope,
    under_path: str,
    depth: int,
    *,
    after_path: str | None,
    limit: int,
) -> list[Committee]:
    """Open committees at `depth` below `under_path`, in path order, `limit` after a path:
    the keyset pages a streamed export walks through."""
    conditions = [
        subtree_condition(Committee.path, under_path),
        scope.condition(Committee.path),
        Committee.depth == depth,
        Committee.closed_at.is_(None),
    ]
    if after_path is not None:
        conditions.append(Committee.path > after_path)
    rows = await session.scalars(
        select(Committee).where(*conditions).order_by(Committee.path).limit(limit)
    )
    return list(rows)


def pending_approval_conditions(
    scope: Scope, under_path: str, term_id: int
) -> list[ColumnElement[bool]]:
    """Congresses strictly below `under_path`, in scope and in the term, whose report waits
    for a decision."""
    return [
        Congress.term_id == term_id,
        CongressReport.state == ReportState.SUBMITTED,
        Committee.closed_at.is_(None),
        subtree_condition(Committee.path, under_path),
        Committee.path != under_path,
        scope.condition(Committee.path),
    ]


async def pending_approval_page(
    session: AsyncSession,
    scope: Scope,
    under_path: str,
    term_id: int,
    *,
    limit: int,
    after_id: int | None,
) -> list[Congress]:
    """The page of `pending_approval_conditions`, the longest waiting first (then by id); a
    cursor naming a congress out of scope, or decided since, matches nothing."""
    return await _congress_page(
        session,
        scope,
        pending_approval_conditions(scope, under_path, term_id),
        CongressReport.submitted_at,
        limit=limit,
        after_id=after_id,
        report=True,
    )


async def pending_approval_count(
    session: AsyncSession, scope: Scope, under_path: str, term_id: int
) -> int:
    return await _congress_count(
        session, pending_approval_conditions(scope, under_path, term_id), report=True
    )
