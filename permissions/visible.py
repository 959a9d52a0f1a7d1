"""Every read of scoped data goes through here, filtered by the viewer's `Scope`.

Resolvers and DataLoaders call these functions; none of them builds its own query on
committees or congresses, so the one rule lives in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from models import Committee, Congress, Term
from models.text import like_contains, search_key
from permissions.scope import Scope


@dataclass(frozen=True, slots=True)
class CommitteeFilter:
    """What `committees(...)` narrows by, on top of the scope."""

    depth: int | None = None
    search: str | None = None


async def committees_by_ids(
    session: AsyncSession, scope: Scope, ids: Sequence[int]
) -> dict[int, Committee]:
    rows = await session.scalars(
        select(Committee).where(Committee.id.in_(ids), scope.condition(Committee.path))
    )
    return {committee.id: committee for committee in rows}


async def committees_by_codes(
    session: AsyncSession, scope: Scope, codes: Sequence[str]
) -> dict[str, Committee]:
    rows = await session.scalars(
        select(Committee).where(Committee.code.in_(codes), scope.condition(Committee.path))
    )
    return {committee.code: committee for committee in rows}


def _after_cursor(scope: Scope, after_id: int) -> ScalarSelect[str]:
    """The path a page continues after; a cursor naming an invisible node matches nothing."""
    cursor_committee = aliased(Committee)
    return (
        select(cursor_committee.path)
        .where(cursor_committee.id == after_id, scope.condition(cursor_committee.path))
        .scalar_subquery()
    )


async def children_pages(
    session: AsyncSession,
    scope: Scope,
    parent_ids: Sequence[int],
    *,
    limit: int,
    after_id: int | None,
) -> dict[int, list[Committee]]:
    """Up to `limit` children of each parent, in path order, in one statement for all parents."""
    conditions = [Committee.parent_id.in_(parent_ids), scope.condition(Committee.path)]
    if after_id is not None:
        conditions.append(Committee.path > _after_cursor(scope, after_id))
    position = (
        func.row_number()
        .over(partition_by=Committee.parent_id, order_by=Committee.path)
        .label("position")
    )
    ranked = select(Committee, position).where(*conditions).subquery()
    ranked_committee = aliased(Committee, ranked)
    rows = await session.scalars(
        select(ranked_committee)
        .where(ranked.c.position <= limit)
        .order_by(ranked.c.parent_id, ranked.c.path)
    )
    pages: dict[int, list[Committee]] = {parent_id: [] for parent_id in parent_ids}
    for committee in rows:
        assert committee.parent_id is not None
        pages[committee.parent_id].append(committee)
    return pages


async def children_counts(
    session: AsyncSession, scope: Scope, parent_ids: Sequence[int]
) -> dict[int, int]:
    rows = await session.execute(
        select(Committee.parent_id, func.count())
        .where(Committee.parent_id.in_(parent_ids), scope.condition(Committee.path))
        .group_by(Committee.parent_id)
    )
    counts = {parent_id: 0 for parent_id in parent_ids}
    counts.update({parent_id: count for parent_id, count in rows if parent_id is not None})
    return counts


def _filter_conditions(scope: Scope, where: CommitteeFilter) -> list[ColumnElement[bool]]:
    conditions = [scope.condition(Committee.path)]
    if where.depth is not None:
        conditions.append(Committee.depth == where.depth)
    if where.search:
        pattern = like_contains(search_key(where.search))
        conditions.append(Committee.search_name.like(pattern, escape="\\"))
    return conditions


async def committee_page(
    session: AsyncSession,
    scope: Scope,
    where: CommitteeFilter,
    *,
    limit: int,
    after_id: int | None,
) -> list[Committee]:
    """Committees in scope matching `where`, in path order (the index order)."""
    statement = select(Committee).where(*_filter_conditions(scope, where))
    if after_id is not None:
        statement = statement.where(Committee.path > _after_cursor(scope, after_id))
    rows = await session.scalars(statement.order_by(Committee.path).limit(limit))
    return list(rows)


async def committee_count(session: AsyncSession, scope: Scope, where: CommitteeFilter) -> int:
    count = await session.scalar(
        select(func.count(Committee.id)).where(*_filter_conditions(scope, where))
    )
    return int(count or 0)


async def congresses_for(
    session: AsyncSession, scope: Scope, term_id: int, committee_ids: Sequence[int]
) -> dict[int, Congress]:
    """The congresses of these committees in one term, by committee id, only within scope."""
    rows = await session.scalars(
        select(Congress)
        .join(Committee, Committee.id == Congress.committee_id)
        .where(
            Congress.term_id == term_id,
            Congress.committee_id.in_(committee_ids),
            scope.condition(Committee.path),
        )
    )
    return {congress.committee_id: congress for congress in rows}


async def congresses_by_ids(
    session: AsyncSession, scope: Scope, ids: Sequence[int]
) -> dict[int, tuple[Congress, Term]]:
    """Congresses (with their term) by id, only for committees in scope."""
    rows = await session.execute(
        select(Congress, Term)
        .join(Committee, Committee.id == Congress.committee_id)
        .join(Term, Term.id == Congress.term_id)
        .where(Congress.id.in_(ids), scope.condition(Committee.path))
    )
    return {congress.id: (congress, term) for congress, term in rows}
