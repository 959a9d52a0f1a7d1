"""Rollups recomputed from the congresses' recorded state: rebuild, and find any drift.

The rollups are maintained write by write (models.rollups); these read the same definition
of what a congress counts for over the whole tree at once, so a missed write shows up as a
difference. `congress check-rollups` reports it and, with --repair, rebuilds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import (
    BigInteger,
    Date,
    Executable,
    Select,
    Table,
    delete,
    func,
    insert,
    literal_column,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from models.rollups import ProgressRollup, ProgressRollupDay, RollupKey, contribution_rows
from models.tree_moves import lock_tree

_ROLLUP: Final = cast(Table, ProgressRollup.__table__)
_ROLLUP_DAY: Final = cast(Table, ProgressRollupDay.__table__)
_KEY_COLUMNS: Final = ("committee_id", "term_id", "levels_below", "measure", "day")
SAMPLE_SIZE: Final = 20


def rebuild_statements() -> list[Executable]:
    """Empty both rollup tables and fill them from every congress (a migration runs these)."""
    expected = contribution_rows(true()).subquery("expected")
    e = expected.c
    return [
        delete(_ROLLUP),
        delete(_ROLLUP_DAY),
        insert(_ROLLUP).from_select(
            ["committee_id", "term_id", "levels_below", "measure", "value"],
            select(e.committee_id, e.term_id, e.levels_below, e.measure, e.value).where(
                e.day.is_(None)
            ),
        ),
        insert(_ROLLUP_DAY).from_select(
            ["committee_id", "term_id", "kind", "day", "levels_below", "value"],
            select(e.committee_id, e.term_id, e.measure, e.day, e.levels_below, e.value).where(
                e.day.is_not(None)
            ),
        ),
    ]


@dataclass(frozen=True, slots=True)
class Drift:
    key: RollupKey
    stored: int
    expected: int


@dataclass(frozen=True, slots=True)
class DriftReport:
    counters_wrong: int
    sample: list[Drift]
    repaired: bool


def _drift_rows() -> Select[Any]:
    """Every counter whose stored value differs from the recomputed one (zero = absent)."""
    r, d = _ROLLUP.c, _ROLLUP_DAY.c
    zero = literal_column("0", BigInteger)
    expected = contribution_rows(true()).subquery("expected")
    e = expected.c
    # One flat UNION ALL (SQLite cannot nest one in parentheses) of stored and recomputed.
    both = union_all(
        select(
            r.committee_id,
            r.term_id,
            r.levels_below,
            r.measure,
            sql_cast(literal_column("NULL"), Date).label("day"),
            r.value.label("stored"),
            zero.label("expected"),
        ),
        select(
            d.committee_id,
            d.term_id,
            d.levels_below,
            d.kind.label("measure"),
            d.day,
            d.value.label("stored"),
            zero.label("expected"),
        ),
        select(
            e.committee_id,
            e.term_id,
            e.levels_below,
            e.measure,
            e.day,
            zero.label("stored"),
            e.value.label("expected"),
        ),
    ).subquery("both")
    b = both.c
    keys = [b[name] for name in _KEY_COLUMNS]
    return (
        select(*keys, func.sum(b.stored).label("stored"), func.sum(b.expected).label("expected"))
        .group_by(*keys)
        .having(func.sum(b.stored) != func.sum(b.expected))
    )


async def check_rollups(session: AsyncSession, *, repair: bool) -> DriftReport:
    """Compare every stored counter with its recomputation; with `repair`, rebuild them all if
    any differs. Run it inside a transaction; the caller commits."""
    await lock_tree(session)
    if repair and session.get_bind().dialect.name == "postgresql":
        # Writers upsert deltas computed from the state they changed: let them finish before
        # (or wait until after) the rebuild reads the state, never in between.
        await session.execute(
            text("LOCK TABLE progress_rollup, progress_rollup_day IN EXCLUSIVE MODE")
        )
    drift = _drift_rows().subquery("drift")
    # One pass over the whole tree: the count of all drifted counters rides on each row of
    # the sample (no row at all when nothing drifted).
    rows = (
        await session.execute(
            select(drift, func.count().over().label("wrong"))
            .order_by(*drift.c[:5])
            .limit(SAMPLE_SIZE)
        )
    ).all()
    wrong = int(rows[0].wrong) if rows else 0
    sample = [
        Drift(
            RollupKey(committee_id, term_id, levels_below, measure, day),
            int(stored),
            int(expected),
        )
        for committee_id, term_id, levels_below, measure, day, stored, expected, _wrong in rows
    ]
    if repair and wrong:
        for statement in rebuild_statements():
            await session.execute(statement)
    return DriftReport(wrong, sample, repaired=repair and wrong > 0)


async def rebuild_rollups(session: AsyncSession) -> None:
    for statement in rebuild_statements():
        await session.execute(statement)
