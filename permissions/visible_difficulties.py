"""Every read of difficulties and their history, filtered by the viewer's `Scope`.

A difficulty is visible exactly when the committee where it was raised is in scope. The
level handling it is that committee or one of its ancestors, so whoever handles it sees it
too, while a level above the viewer's scope never makes it visible to anyone else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from models import Committee, Difficulty, DifficultyEvent, DifficultyStatus
from permissions.scope import Scope
from permissions.visible import first_per_group


@dataclass(frozen=True, slots=True)
class DifficultyFilter:
    """What `difficulties(...)` narrows by, on top of the scope."""

    status: DifficultyStatus | None = None
    # A level's inbox: only what this committee handles now.
    handling_committee_id: int | None = None


def _visible(scope: Scope, where: DifficultyFilter | None = None) -> Select[Difficulty]:
    raised_at = aliased(Committee)
    statement = (
        select(Difficulty)
        .join(raised_at, raised_at.id == Difficulty.committee_id)
        .where(scope.condition(raised_at.path))
    )
    if where is not None and where.status is not None:
        statement = statement.where(Difficulty.status == where.status)
    if where is not None and where.handling_committee_id is not None:
        statement = statement.where(Difficulty.handling_committee_id == where.handling_committee_id)
    return statement


async def difficulties_by_ids(
    session: AsyncSession, scope: Scope, ids: Sequence[int]
) -> dict[int, Difficulty]:
    rows = await session.scalars(
        _visible(scope)
        .where(Difficulty.id.in_(ids))
        # Versions are claimed with bulk UPDATEs; never serve a stale copy from the session.
        .execution_options(populate_existing=True)
    )
    return {difficulty.id: difficulty for difficulty in rows}


async def difficulty_page(
    session: AsyncSession,
    scope: Scope,
    where: DifficultyFilter,
    *,
    limit: int,
    after_id: int | None,
) -> list[Difficulty]:
    """Visible difficulties matching `where`, newest first (by id, so pages never shift)."""
    statement = _visible(scope, where)
    if after_id is not None:
        statement = statement.where(Difficulty.id < after_id)
    rows = await session.scalars(
        statement.order_by(Difficulty.id.desc())
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def difficulty_count(session: AsyncSession, scope: Scope, where: DifficultyFilter) -> int:
    count = await session.scalar(
        select(func.count()).select_from(_visible(scope, where).subquery())
    )
    return int(count or 0)


def _events_of_visible(scope: Scope, difficulty_ids: Sequence[int]) -> Select[int]:
    """Ids of those difficulties the viewer may see: their events are visible, no others."""
    return _visible(scope).where(Difficulty.id.in_(difficulty_ids)).with_only_columns(Difficulty.id)


async def event_pages(
    session: AsyncSession,
    scope: Scope,
    difficulty_ids: Sequence[int],
    *,
    limit: int,
    after_id: int | None,
) -> dict[int, list[DifficultyEvent]]:
    """Up to `limit` events of each difficulty, oldest first, in one statement for all."""
    conditions: list[ColumnElement[bool]] = [
        DifficultyEvent.difficulty_id.in_(_events_of_visible(scope, difficulty_ids))
    ]
    if after_id is not None:
        conditions.append(DifficultyEvent.id > after_id)
    return await first_per_group(
        session,
        DifficultyEvent,
        group_by=DifficultyEvent.difficulty_id,
        order_by=DifficultyEvent.id,
        conditions=conditions,
        group_ids=difficulty_ids,
        limit=limit,
    )


async def event_counts(
    session: AsyncSession, scope: Scope, difficulty_ids: Sequence[int]
) -> dict[int, int]:
    rows = await session.execute(
        select(DifficultyEvent.difficulty_id, func.count())
        .where(DifficultyEvent.difficulty_id.in_(_events_of_visible(scope, difficulty_ids)))
        .group_by(DifficultyEvent.difficulty_id)
    )
    counts = dict.fromkeys(difficulty_ids, 0)
    counts.update({difficulty_id: count for difficulty_id, count in rows})
    return counts
