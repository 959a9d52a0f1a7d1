"""Rollups: what every subtree's congresses add up to, kept current by every write.

A dashboard at the centre asks the same question as one at a cell: how many congresses
below me are held, late, at which step. Counting the subtree would cost a million rows at
the top, so each committee keeps rollup rows instead, one per (term, level below it,
measure), updated in the same transaction as the write that changes them:

- `progress_rollup`: counters (`total`, `held`, `milestone:done:plan_issued`, `women`, ...).
- `progress_rollup_day`: counters by date: congresses not yet held by their deadline
  (`deadline`), so "overdue" and "due soon" are sums over dates and need no write when the
  day turns, and congresses by the day they were held (`held`), for the timeline.

What one congress contributes is defined once, in SQL (`contribution_rows`), and expanded
to every ancestor by cutting its path. A write brackets its change with `rollups_follow`,
which applies the difference of the contributions after and before. A move changes no
congress, only which ancestors its subtree counts towards: `shift_subtrees` moves the
subtree's own rollup rows from one ancestor chain to the other, so its cost depends on the
depth, not on the size of what moves. `levels_below` is relative, which is what lets the
rows inside a moved subtree stay as they are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, Final, cast

from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    Select,
    String,
    Table,
    bindparam,
    func,
    literal,
    literal_column,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from models.base import Base
from models.congress import Congress, CongressStatus, MilestoneStatus
from models.progress import CongressMilestone, CongressResult
from models.report_rows import CongressReport, ReportState
from models.tree import MAX_DEPTH, PATH_SEGMENT_DIGITS, Committee


class ProgressRollup(Base):
    """One counter over the congresses `levels_below` levels under a committee, in a term."""

    __tablename__ = "progress_rollup"

    # No foreign keys: rows are derived, rebuilt by check-rollups, and a key check per row
    # would double the cost of filling them for a large tree.
    committee_id: Mapped[int] = mapped_column(primary_key=True)
    term_id: Mapped[int] = mapped_column(primary_key=True)
    levels_below: Mapped[int] = mapped_column(primary_key=True)
    measure: Mapped[str] = mapped_column(String(96), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class ProgressRollupDay(Base):
    """Like ProgressRollup, for counters kept per date (`kind` is DEADLINE or HELD_ON)."""

    __tablename__ = "progress_rollup_day"

    committee_id: Mapped[int] = mapped_column(primary_key=True)
    term_id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    levels_below: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


# Counters. A congress of an open committee counts once in TOTAL; closed units count nowhere.
TOTAL: Final = "total"
IN_PROGRESS: Final = "in_progress"
HELD: Final = "held"  # held or completed
COMPLETED: Final = "completed"
RESULTS_RECORDED: Final = "results_recorded"
SECRETARY_DIRECTLY_ELECTED: Final = "secretary_directly_elected"
# Sums of results, by the column of congress_result they add up.
RESULT_SUMS: Final = ("members_elected", "women", "under_40", "ethnic_minority")
MILESTONE_PREFIX: Final = "milestone:"
# Reports that left DRAFT, by state (models/reports.py): "report:submitted", ...
REPORT_PREFIX: Final = "report:"
# Day counters: not yet held, by deadline; held, by the day it was held.
DEADLINE: Final = "deadline"
HELD_ON: Final = "held"


def milestone_measure(status: MilestoneStatus, code: str) -> str:
    return f"{MILESTONE_PREFIX}{status.value}:{code}"


@dataclass(frozen=True, slots=True)
class RollupKey:
    """Which counter: `day` is set for day counters (`measure` is then their kind)."""

    committee_id: int
    term_id: int
    levels_below: int
    measure: str
    day: date | None = None

    @property
    def order(self) -> tuple[int, int, int, str, date]:
        """The order rows are locked in (see `apply`)."""
        return (
            self.committee_id,
            self.term_id,
            self.levels_below,
            self.measure,
            self.day or date.min,
        )


Contributions = Counter[RollupKey]

_ROLLUP: Final = cast(Table, ProgressRollup.__table__)
_ROLLUP_DAY: Final = cast(Table, ProgressRollupDay.__table__)


def _quoted(text: str) -> ColumnElement[str]:
    # Inline constants: PostgreSQL cannot type a bound parameter in a UNION's select list.
    return literal_column(f"'{text}'", String)


def contribution_rows(
    congresses: ColumnElement[bool], *, deadlines_only: bool = False
) -> Select[Any]:
    """(committee_id, term_id, levels_below, measure, day, value) for every ancestor of every
    congress matching `congresses`, summed: the one definition of what a congress counts for.
    `deadlines_only` keeps the open-deadline counters alone: what a deadline change moves.

    The ancestors of a committee are the ids in its path: the n-th (root first) is the n-th
    ten-digit segment, and the congress sits `depth - n` levels below it.
    """
    chosen = (
        select(
            Congress.id.label("congress_id"),
            Congress.term_id,
            Congress.status,
            Congress.deadline,
            Congress.held_on,
            Committee.path,
            Committee.depth,
        )
        .join(Committee, Committee.id == Congress.committee_id)
        .where(congresses, Committee.closed_at.is_(None))
        .cte("chosen")
    )
    c = chosen.c
    one = literal_column("1", Integer)
    no_day = sql_cast(null(), Date)
    where_each = (c.term_id, c.path, c.depth)

    def counter(measure: ColumnElement[str], value: ColumnElement[int]) -> Select[Any]:
        return select(
            *where_each, measure.label("measure"), no_day.label("day"), value.label("value")
        )

    milestone = CongressMilestone.__table__.alias("milestone")
    result = CongressResult.__table__.alias("result")
    report = CongressReport.__table__.alias("report")
    held_statuses = [CongressStatus.HELD, CongressStatus.COMPLETED]
    parts: list[Select[Any]] = [
        counter(_quoted(TOTAL), one),
        counter(_quoted(IN_PROGRESS), one).where(c.status == CongressStatus.IN_PROGRESS),
        counter(_quoted(HELD), one).where(c.status.in_(held_statuses)),
        counter(_quoted(COMPLETED), one).where(c.status == CongressStatus.COMPLETED),
        counter(
            _quoted(MILESTONE_PREFIX)
            + type_coerce(milestone.c.status, String)
            + _quoted(":")
            + milestone.c.milestone_code,
            one,
        )
        .join(milestone, milestone.c.congress_id == c.congress_id)
        .where(milestone.c.status != MilestoneStatus.NOT_STARTED),
        counter(_quoted(RESULTS_RECORDED), one).join(result, result.c.congress_id == c.congress_id),
        counter(_quoted(SECRETARY_DIRECTLY_ELECTED), one)
        .join(result, result.c.congress_id == c.congress_id)
        .where(result.c.secretary_directly_elected.is_(True)),
        *(
            counter(_quoted(column), result.c[column]).join(
                result, result.c.congress_id == c.congress_id
            )
            for column in RESULT_SUMS
        ),
        select(*where_each, _quoted(HELD_ON), c.held_on, one).where(c.held_on.is_not(None)),
        counter(_quoted(REPORT_PREFIX) + type_coerce(report.c.state, String), one)
        .join(report, report.c.congress_id == c.congress_id)
        .where(report.c.state != ReportState.DRAFT),
    ]
    open_deadlines = select(
        *where_each, _quoted(DEADLINE).label("measure"), c.deadline.label("day"), one.label("value")
    ).where(c.deadline.is_not(None), c.held_on.is_(None))
    measured = (open_deadlines if deadlines_only else union_all(*parts, open_deadlines)).subquery(
        "measured"
    )
    m = measured.c
    levels = select(literal_column("1", Integer).label("n")).cte("levels", recursive=True)
    # 1 .. the deepest chosen congress (MAX_DEPTH at most): joining every row with all 93
    # possible levels would cost more than the rest of the statement.
    deepest = select(func.coalesce(func.max(c.depth), 0)).scalar_subquery()
    levels = levels.union_all(
        select(levels.c.n + 1).where(levels.c.n < deepest, levels.c.n < MAX_DEPTH)
    )
    segment_start = 2 + (PATH_SEGMENT_DIGITS + 1) * (levels.c.n - 1)
    ancestor_id = sql_cast(func.substr(m.path, segment_start, PATH_SEGMENT_DIGITS), Integer)
    levels_below = m.depth - levels.c.n
    return (
        select(
            ancestor_id.label("committee_id"),
            m.term_id,
            levels_below.label("levels_below"),
            m.measure,
            m.day,
            func.sum(m.value).label("value"),
        )
        .select_from(measured.join(levels, levels.c.n <= m.depth))
        .group_by(ancestor_id, m.term_id, levels_below, m.measure, m.day)
    )


@cache
def _congress_rows() -> Select[Any]:
    """contribution_rows of the congresses with the ids `:congress_ids`, built once: building
    the statement costs more than running it, and every progress write runs it twice."""
    return contribution_rows(Congress.id.in_(bindparam("congress_ids", expanding=True)))


# Which congresses a rollup change is about: a condition, or congress ids (the hot path).
Congresses = ColumnElement[bool] | int | Sequence[int]


async def contributions(session: AsyncSession, congresses: Congresses) -> Contributions:
    """What the congresses matching `congresses` add to every rollup, as stored right now."""
    if isinstance(congresses, int):
        congresses = [congresses]
    if isinstance(congresses, Sequence):
        rows = await session.execute(_congress_rows(), {"congress_ids": list(congresses)})
    else:
        rows = await session.execute(contribution_rows(congresses))
    return Counter(
        {
            RollupKey(committee_id, term_id, levels_below, measure, day): int(value)
            for committee_id, term_id, levels_below, measure, day, value in rows
        }
    )


async def apply(session: AsyncSession, delta: Contributions) -> None:
    """Add `delta` to the rollups: one upsert per table, in key order.

    Concurrent writers upsert the same ancestors' rows (the centre's, always); taking the
    row locks in one global order keeps two of them from deadlocking on PostgreSQL.
    """
    changes = sorted(
        ((key, value) for key, value in delta.items() if value), key=lambda change: change[0].order
    )
    plain = [
        {
            "committee_id": key.committee_id,
            "term_id": key.term_id,
            "levels_below": key.levels_below,
            "measure": key.measure,
            "value": value,
        }
        for key, value in changes
        if key.day is None
    ]
    by_day = [
        {
            "committee_id": key.committee_id,
            "term_id": key.term_id,
            "kind": key.measure,
            "day": key.day,
            "levels_below": key.levels_below,
            "value": value,
        }
        for key, value in changes
        if key.day is not None
    ]
    for table, rows in ((_ROLLUP, plain), (_ROLLUP_DAY, by_day)):
        if rows:
            await session.execute(_upsert(session, table), rows)


def _upsert(
    session: AsyncSession, table: Table, from_select: tuple[list[str], Select[Any]] | None = None
) -> Any:
    """INSERT ... ON CONFLICT (key) DO UPDATE SET value = value + excluded.value, of the
    parameters given with it or of `from_select` (columns, select). A select must have a
    WHERE clause: SQLite cannot parse INSERT ... SELECT ... ON CONFLICT without one."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    if from_select is not None:
        statement = statement.from_select(*from_select)
    return statement.on_conflict_do_update(
        index_elements=[column.name for column in table.primary_key.columns],
        set_={"value": table.c.value + statement.excluded.value},
    )


async def add_contributions(
    session: AsyncSession,
    congresses: ColumnElement[bool],
    *,
    sign: int = 1,
    deadlines_only: bool = False,
) -> None:
    """Add what the congresses matching `congresses` count for to the rollups (or, with
    `sign=-1`, take it out) in two statements computed by the database: for inserts, and
    for changes to more congresses than should pass through Python (a level's deadlines)."""
    rows = contribution_rows(congresses, deadlines_only=deadlines_only).subquery("added")
    r = rows.c
    for table, columns, measure_column, day_condition in (
        (
            _ROLLUP,
            ["committee_id", "term_id", "levels_below", "measure", "value"],
            None,
            r.day.is_(None),
        ),
        (
            _ROLLUP_DAY,
            ["committee_id", "term_id", "levels_below", "kind", "day", "value"],
            r.day,
            r.day.is_not(None),
        ),
    ):
        selected = [r.committee_id, r.term_id, r.levels_below, r.measure]
        if measure_column is not None:
            selected.append(measure_column)
        source = select(*selected, (r.value * sign).label("value")).where(day_condition)
        await session.execute(_upsert(session, table, (columns, source)))


@asynccontextmanager
async def rollups_follow(session: AsyncSession, congresses: Congresses) -> AsyncIterator[None]:
    """Bracket a change to the congresses matching `congresses` (the same ones before and
    after it): the rollups get what they count for afterwards minus what they counted for
    before. The caller holds the congresses' row locks (a version claim) where others could
    change them meanwhile."""
    await session.flush()
    before = await contributions(session, congresses)
    yield
    await session.flush()
    after = await contributions(session, congresses)
    after.subtract(before)
    await apply(session, after)


@dataclass(frozen=True, slots=True)
class Chain:
    """Ancestors a subtree counts towards, as (committee id, depth), and the depth its root
    has below them."""

    ancestors: Sequence[tuple[int, int]]
    root_depth: int


async def shift_subtrees(
    session: AsyncSession, roots: ColumnElement[bool], old: Chain, new: Chain
) -> None:
    """Move what the subtrees rooted at the committees matching `roots` count for from the
    `old` ancestors to the `new` ones. Call it before the move (it reads the roots' rows,
    which a move leaves as they are). Two statements per ancestor, whatever the subtree size.
    """
    for chain, sign in ((old, -1), (new, 1)):
        for ancestor_id, ancestor_depth in chain.ancestors:
            offset = chain.root_depth - ancestor_depth
            for table, key_columns in (
                (_ROLLUP, ("term_id", "measure")),
                (_ROLLUP_DAY, ("term_id", "kind", "day")),
            ):
                keys = [table.c[name] for name in key_columns]
                shifted = (
                    select(
                        literal(ancestor_id, Integer).label("committee_id"),
                        *keys,
                        (table.c.levels_below + offset).label("levels_below"),
                        (func.sum(table.c.value) * sign).label("value"),
                    )
                    .where(table.c.committee_id.in_(select(Committee.id).where(roots)))
                    .group_by(*keys, table.c.levels_below)
                    .having(func.sum(table.c.value) != 0)
                )
                columns = ["committee_id", *key_columns, "levels_below", "value"]
                await session.execute(_upsert(session, table, (columns, shifted)))


def ancestor_chain(path_ids: Sequence[int], *, including_self: bool) -> list[tuple[int, int]]:
    """(id, depth) of the committees along a path, root first."""
    ids = path_ids if including_self else path_ids[:-1]
    return [(committee_id, depth) for depth, committee_id in enumerate(ids, start=1)]
