"""Every read of scoped data goes through here, filtered by the viewer's `Scope`.

Resolvers and DataLoaders call these functions; none of them builds its own query on
committees or congresses, so the one rule lives in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import ScalarSelect, Select, SQLColumnExpression, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased
from sqlalchemy.sql.elements import ColumnElement

from models import (
    Assignment,
    AuditEntry,
    Committee,
    Congress,
    CongressEvent,
    CongressMilestone,
    CongressReport,
    CongressResult,
    MilestoneTemplate,
    Term,
    User,
)
from models.text import like_contains, search_key
from permissions.scope import Scope, condition_with_parameters
from permissions.viewer import Grant

Row = TypeVar("Row")


@dataclass(frozen=True, slots=True)
class CommitteeFilter:
    """What `committees(...)` narrows by, on top of the scope."""

    depth: int | None = None
    search: str | None = None
    include_closed: bool = False


# The scoped lookups every request starts with, built once per number of scope roots.
_COMMITTEE_LOOKUPS_CACHED = 32


@lru_cache(maxsize=_COMMITTEE_LOOKUPS_CACHED)
def _committees_by(key: InstrumentedAttribute[Any], scope_roots: int) -> Select[Committee]:
    return (
        select(Committee)
        .where(
            key.in_(bindparam("keys", expanding=True)),
            condition_with_parameters(Committee.path, scope_roots),
        )
        # Moves rewrite paths with bulk UPDATEs; never serve a stale copy from the session.
        .execution_options(populate_existing=True)
    )


async def committees_by_ids(
    session: AsyncSession, scope: Scope, ids: Sequence[int]
) -> dict[int, Committee]:
    rows = await session.scalars(
        _committees_by(Committee.id, len(scope.root_paths)),
        {"keys": list(ids), **scope.parameters()},
    )
    return {committee.id: committee for committee in rows}


async def committees_by_codes(
    session: AsyncSession, scope: Scope, codes: Sequence[str]
) -> dict[str, Committee]:
    rows = await session.scalars(
        _committees_by(Committee.code, len(scope.root_paths)),
        {"keys": list(codes), **scope.parameters()},
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


async def first_per_group(
    session: AsyncSession,
    entity: type[Row],
    *,
    group_by: InstrumentedAttribute[Any],
    order_by: ColumnElement[Any] | InstrumentedAttribute[Any],
    conditions: Sequence[ColumnElement[bool]],
    group_ids: Sequence[int],
    limit: int,
) -> dict[int, list[Row]]:
    """Up to `limit` rows of each group, in `order_by` order, in one statement for all groups
    (a window over the groups): how nested pages avoid one query per parent."""
    position = func.row_number().over(partition_by=group_by, order_by=order_by).label("position")
    ranked = select(entity, position).where(*conditions).subquery()
    rows = await session.scalars(
        select(aliased(entity, ranked))
        .where(ranked.c.position <= limit)
        .order_by(ranked.c.position)
        # Moves rewrite paths with bulk UPDATEs; never serve a stale copy from the session.
        .execution_options(populate_existing=True)
    )
    pages: dict[int, list[Row]] = {group_id: [] for group_id in group_ids}
    for row in rows:
        pages[getattr(row, group_by.key)].append(row)
    return pages


# The children of a level: built once per shape (scope roots, closed ones, a cursor) and run
# with bound values, since building such a statement costs more than running it.
_CHILDREN_SHAPES_CACHED = 64


def _children_conditions(
    scope_roots: int, include_closed: bool, after: bool, child: type[Committee] = Committee
) -> list[ColumnElement[bool]]:
    """An open child (any with `include_closed`) past the cursor's node (if `after`); the
    scope is the caller's to check, on the child or on its parent."""
    conditions: list[ColumnElement[bool]] = []
    if not include_closed:
        conditions.append(child.closed_at.is_(None))
    if after:
        # The path a page continues after; a cursor naming an invisible node matches nothing.
        cursor_committee = aliased(Committee)
        conditions.append(
            child.path
            > select(cursor_committee.path)
            .where(
                cursor_committee.id == bindparam("after_id"),
                condition_with_parameters(cursor_committee.path, scope_roots),
            )
            .scalar_subquery()
        )
    return conditions


@lru_cache(maxsize=_CHILDREN_SHAPES_CACHED)
def _children_page_statement(
    scope_roots: int, include_closed: bool, after: bool
) -> Select[Committee]:
    """Each visible parent's first `limit` children: first each parent's cutoff, the path
    of its `limit`-th child (one seek and `limit` steps along the (parent_id, path) index),
    then its children up to that path. The cost follows the page, not how many children a
    parent has: ranking every child with a window, as before, read all 300 cells of each of
    20 communes to keep 11 of each (15 ms a request for a 20 x 10 page). The scope is
    checked on the parents: a visible committee's children are in the same subtree, and a
    condition on the children's paths would lead the database to walk the whole subtree."""
    parent = aliased(Committee)
    candidate = aliased(Committee)
    cutoff = (
        select(candidate.path)
        .where(
            candidate.parent_id == parent.id,
            *_children_conditions(scope_roots, include_closed, after, candidate),
        )
        .order_by(candidate.path)
        .limit(1)
        .offset(bindparam("limit") - 1)
        .scalar_subquery()
    )
    parents = (
        select(parent.id.label("parent_id"), cutoff.label("cutoff"))
        .where(
            parent.id.in_(bindparam("parent_ids", expanding=True)),
            condition_with_parameters(parent.path, scope_roots),
        )
        # Each cutoff computed once: inlined, it would be recomputed for every child.
        .cte("parents")
        .prefix_with("MATERIALIZED")
    )
    return (
        select(Committee)
        .join(parents, Committee.parent_id == parents.c.parent_id)
        .where(
            *_children_conditions(scope_roots, include_closed, after),
            # A parent with fewer than `limit` children has no cutoff: all of them.
            (parents.c.cutoff.is_(None)) | (Committee.path <= parents.c.cutoff),
        )
        .order_by(Committee.path)
        # Moves rewrite paths with bulk UPDATEs; never serve a stale copy from the session.
        .execution_options(populate_existing=True)
    )


@lru_cache(maxsize=_CHILDREN_SHAPES_CACHED)
def _children_count_statement(scope_roots: int, include_closed: bool) -> Select[int | None, int]:
    return (
        select(Committee.parent_id, func.count())
        .where(
            Committee.parent_id.in_(bindparam("parent_ids", expanding=True)),
            condition_with_parameters(Committee.path, scope_roots),
            *_children_conditions(scope_roots, include_closed, after=False),
        )
        .group_by(Committee.parent_id)
    )


async def children_pages(
    session: AsyncSession,
    scope: Scope,
    parent_ids: Sequence[int],
    *,
    limit: int,
    after_id: int | None,
    include_closed: bool,
) -> dict[int, list[Committee]]:
    """Up to `limit` children of each parent, in path order, in one statement for all parents."""
    statement = _children_page_statement(
        len(scope.root_paths), include_closed, after_id is not None
    )
    parameters: dict[str, Any] = {
        "parent_ids": list(parent_ids),
        "limit": limit,
        **scope.parameters(),
    }
    if after_id is not None:
        parameters["after_id"] = after_id
    pages: dict[int, list[Committee]] = {parent_id: [] for parent_id in parent_ids}
    for committee in await session.scalars(statement, parameters):
        assert committee.parent_id is not None  # it matched `parent_ids`
        pages[committee.parent_id].append(committee)
    return pages


async def children_counts(
    session: AsyncSession, scope: Scope, parent_ids: Sequence[int], *, include_closed: bool
) -> dict[int, int]:
    rows = await session.execute(
        _children_count_statement(len(scope.root_paths), include_closed),
        {"parent_ids": list(parent_ids), **scope.parameters()},
    )
    counts = {parent_id: 0 for parent_id in parent_ids}
    counts.update({parent_id: count for parent_id, count in rows if parent_id is not None})
    return counts


def _filter_conditions(scope: Scope, where: CommitteeFilter) -> list[ColumnElement[bool]]:
    conditions = [scope.condition(Committee.path)]
    if not where.include_closed:
        conditions.append(Committee.closed_at.is_(None))
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
    rows = await session.scalars(
        statement.order_by(Committee.path).limit(limit).execution_options(populate_existing=True)
    )
    return list(rows)


async def committee_count(session: AsyncSession, scope: Scope, where: CommitteeFilter) -> int:
    count = await session.scalar(
        select(func.count(Committee.id)).where(*_filter_conditions(scope, where))
    )
    return int(count or 0)


@lru_cache(maxsize=_COMMITTEE_LOOKUPS_CACHED)
def _congresses_for_statement(scope_roots: int) -> Select[Congress]:
    return (
        select(Congress)
        .join(Committee, Committee.id == Congress.committee_id)
        .where(
            Congress.term_id == bindparam("term_id"),
            Congress.committee_id.in_(bindparam("committee_ids", expanding=True)),
            # Said of both tables, so PostgreSQL finds the committees by their keys rather
            # than walking the scope's whole subtree (9 ms for a page of 100).
            Committee.id.in_(bindparam("committee_ids", expanding=True)),
            condition_with_parameters(Committee.path, scope_roots),
        )
    )


async def congresses_for(
    session: AsyncSession, scope: Scope, term_id: int, committee_ids: Sequence[int]
) -> dict[int, Congress]:
    """The congresses of these committees in one term, by committee id, only within scope."""
    rows = await session.scalars(
        _congresses_for_statement(len(scope.root_paths)),
        {"term_id": term_id, "committee_ids": list(committee_ids), **scope.parameters()},
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


def _has_role_in(scope: Scope) -> ColumnElement[bool]:
    """The user holds at least one role inside `scope`: that is what makes a user visible."""
    return (
        select(Assignment.id)
        .join(Committee, Committee.id == Assignment.committee_id)
        .where(Assignment.user_id == User.id, scope.condition(Committee.path))
        .exists()
    )


def _user_conditions(scope: Scope, search: str | None) -> list[ColumnElement[bool]]:
    conditions = [_has_role_in(scope)]
    if search:
        pattern = like_contains(search_key(search))
        conditions.append(
            User.search_name.like(pattern, escape="\\")
            | func.lower(User.subject).like(pattern, escape="\\")
        )
    return conditions


async def users_page(
    session: AsyncSession, scope: Scope, search: str | None, *, limit: int, after_id: int | None
) -> list[User]:
    """Users with a role inside `scope`, oldest account first."""
    statement = select(User).where(*_user_conditions(scope, search))
    if after_id is not None:
        statement = statement.where(User.id > after_id)
    rows = await session.scalars(
        statement.order_by(User.id).limit(limit).execution_options(populate_existing=True)
    )
    return list(rows)


async def users_count(session: AsyncSession, scope: Scope, search: str | None) -> int:
    count = await session.scalar(
        select(func.count(User.id)).where(*_user_conditions(scope, search))
    )
    return int(count or 0)


async def users_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, User]:
    rows = await session.scalars(
        select(User)
        .where(User.id.in_(ids), _has_role_in(scope))
        .execution_options(populate_existing=True)
    )
    return {user.id: user for user in rows}


async def grants_of_users(
    session: AsyncSession, scope: Scope, user_ids: Sequence[int]
) -> dict[int, list[Grant]]:
    """Each user's roles inside `scope` (roles elsewhere stay invisible), in tree order."""
    rows = await session.execute(
        select(Assignment.user_id, Assignment.committee_id, Committee.path, Assignment.role)
        .join(Committee, Committee.id == Assignment.committee_id)
        .where(Assignment.user_id.in_(user_ids), scope.condition(Committee.path))
        .order_by(Committee.path)
    )
    grants: dict[int, list[Grant]] = {user_id: [] for user_id in user_ids}
    for user_id, committee_id, path, role in rows:
        grants[user_id].append(Grant(committee_id, path, role))
    return grants


def _audit_conditions(scope: Scope, include_tree_wide: bool) -> ColumnElement[bool]:
    in_scope = AuditEntry.committee_id.in_(
        select(Committee.id).where(scope.condition(Committee.path))
    )
    if include_tree_wide:
        return in_scope | AuditEntry.committee_id.is_(None)
    return in_scope


async def audit_page(
    session: AsyncSession,
    scope: Scope,
    *,
    include_tree_wide: bool,
    limit: int,
    after_id: int | None,
) -> list[AuditEntry]:
    """Audit entries about committees in `scope`, newest first; `include_tree_wide` adds the
    entries tied to no committee (refused logins), for administrators of a root."""
    statement = select(AuditEntry).where(_audit_conditions(scope, include_tree_wide))
    if after_id is not None:
        statement = statement.where(AuditEntry.id < after_id)
    rows = await session.scalars(statement.order_by(AuditEntry.id.desc()).limit(limit))
    return list(rows)


async def audit_count(session: AsyncSession, scope: Scope, *, include_tree_wide: bool) -> int:
    count = await session.scalar(
        select(func.count(AuditEntry.id)).where(_audit_conditions(scope, include_tree_wide))
    )
    return int(count or 0)


async def milestone_templates(
    session: AsyncSession, term_ids: Sequence[int]
) -> dict[int, list[MilestoneTemplate]]:
    """The milestone templates of each term, in order (configuration, not scoped data)."""
    rows = await session.scalars(
        select(MilestoneTemplate)
        .where(MilestoneTemplate.term_id.in_(term_ids))
        .order_by(MilestoneTemplate.term_id, MilestoneTemplate.position)
    )
    templates: dict[int, list[MilestoneTemplate]] = {term_id: [] for term_id in term_ids}
    for template in rows:
        templates[template.term_id].append(template)
    return templates


def _congress_in_scope(scope: Scope, congress_id: SQLColumnExpression[int]) -> ColumnElement[bool]:
    return congress_id.in_(
        select(Congress.id)
        .join(Committee, Committee.id == Congress.committee_id)
        .where(scope.condition(Committee.path))
    )


async def milestone_states(
    session: AsyncSession, scope: Scope, congress_ids: Sequence[int]
) -> dict[int, list[CongressMilestone]]:
    rows = await session.scalars(
        select(CongressMilestone)
        .where(
            CongressMilestone.congress_id.in_(congress_ids),
            _congress_in_scope(scope, CongressMilestone.congress_id),
        )
        .execution_options(populate_existing=True)
    )
    states: dict[int, list[CongressMilestone]] = {congress_id: [] for congress_id in congress_ids}
    for state in rows:
        states[state.congress_id].append(state)
    return states


async def congress_results(
    session: AsyncSession, scope: Scope, congress_ids: Sequence[int]
) -> dict[int, CongressResult]:
    rows = await session.scalars(
        select(CongressResult)
        .where(
            CongressResult.congress_id.in_(congress_ids),
            _congress_in_scope(scope, CongressResult.congress_id),
        )
        .execution_options(populate_existing=True)
    )
    return {result.congress_id: result for result in rows}


@dataclass(frozen=True, slots=True)
class ReportRead:
    """A congress's report as a reader sees it, with the names of who moved it."""

    report: CongressReport
    submitted_by_name: str | None
    decided_by_name: str | None


async def congress_reports(
    session: AsyncSession, scope: Scope, congress_ids: Sequence[int]
) -> dict[int, ReportRead]:
    """The reports of those congresses in scope that have left DRAFT (one statement)."""
    submitter, decider = aliased(User), aliased(User)
    rows = await session.execute(
        select(CongressReport, submitter.display_name, decider.display_name)
        .outerjoin(submitter, submitter.id == CongressReport.submitted_by_user_id)
        .outerjoin(decider, decider.id == CongressReport.decided_by_user_id)
        .where(
            CongressReport.congress_id.in_(congress_ids),
            _congress_in_scope(scope, CongressReport.congress_id),
        )
        .execution_options(populate_existing=True)
    )
    return {
        report.congress_id: ReportRead(report, submitted, decided)
        for report, submitted, decided in rows
    }


async def committee_reports(
    session: AsyncSession, scope: Scope, committee_ids: Sequence[int], term_id: int
) -> dict[int, CongressReport]:
    """The report of each of these committees' congresses in the term, by committee, for
    those in scope that have left DRAFT (one statement)."""
    rows = await session.execute(
        select(Congress.committee_id, CongressReport)
        .join(CongressReport, CongressReport.congress_id == Congress.id)
        .where(
            Congress.committee_id.in_(committee_ids),
            Congress.term_id == term_id,
            _congress_in_scope(scope, Congress.id),
        )
    )
    return {committee_id: report for committee_id, report in rows}


async def congress_history_pages(
    session: AsyncSession,
    scope: Scope,
    congress_ids: Sequence[int],
    *,
    limit: int,
    after_id: int | None,
) -> dict[int, list[CongressEvent]]:
    """Up to `limit` events of each congress, newest first, in one statement for all."""
    conditions = [
        CongressEvent.congress_id.in_(congress_ids),
        _congress_in_scope(scope, CongressEvent.congress_id),
    ]
    if after_id is not None:
        conditions.append(CongressEvent.id < after_id)
    return await first_per_group(
        session,
        CongressEvent,
        group_by=CongressEvent.congress_id,
        order_by=CongressEvent.id.desc(),
        conditions=conditions,
        group_ids=congress_ids,
        limit=limit,
    )


async def congress_history_counts(
    session: AsyncSession, scope: Scope, congress_ids: Sequence[int]
) -> dict[int, int]:
    rows = await session.execute(
        select(CongressEvent.congress_id, func.count())
        .where(
            CongressEvent.congress_id.in_(congress_ids),
            _congress_in_scope(scope, CongressEvent.congress_id),
        )
        .group_by(CongressEvent.congress_id)
    )
    counts = dict.fromkeys(congress_ids, 0)
    counts.update({congress_id: count for congress_id, count in rows.all()})
    return counts
