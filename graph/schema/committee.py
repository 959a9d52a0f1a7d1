"""Committee and Congress: the tree and what each node holds per term."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import strawberry

from graph.context import Context, Info
from graph.global_ids import GlobalId
from graph.planner.fields import SqlRelation, for_each, planned, sql_column
from graph.resolvers import committees as resolve
from graph.resolvers import progress as resolve_progress
from graph.resolvers import progress_summary as resolve_summary
from graph.schema.cost import costs
from graph.schema.node import Node
from graph.schema.pagination import Connection, connection_from_page
from graph.schema.progress import (
    CongressHistoryEvent,
    CongressResults,
    CongressStatus,
    MilestoneState,
)
from graph.schema.progress_summary import SUMMARY_COST, SubtreeProgressFigures, counters_shown
from graph.schema.reports import CongressReport
from models import Congress as CongressRow
from models import Term as TermRow
from models.tree import Committee as CommitteeRow
from models.tree import CommitteeKind as CommitteeKindValue

CommitteeKind = strawberry.enum(CommitteeKindValue, name="CommitteeKind")


@strawberry.type(description="When the reports of one level of the tree are due above.")
class ReportDeadline:
    depth: int = strawberry.field(description="The level's depth in the tree (the root is 1).")
    due_on: datetime.date = strawberry.field(
        description="A report at this level not approved by this day is overdue."
    )


@strawberry.type(description="A congress cycle, e.g. 2025-2030 (nhiệm kỳ).")
class Term:
    row_id: strawberry.Private[int]
    code: str
    name: str
    starts_on: datetime.date
    ends_on: datetime.date
    is_current: bool
    require_children_approved: bool = strawberry.field(
        description="A committee's report waits until its children's reports are approved."
    )

    @strawberry.field(description="When each level's reports are due, top level first.")
    async def report_deadlines(self, info: Info) -> list[ReportDeadline]:
        snapshot = await info.context.terms.snapshot(info.context.session)
        return [
            ReportDeadline(depth=row.depth, due_on=row.due_on)
            for row in snapshot.report_deadlines_of(self.row_id)
        ]

    @classmethod
    def from_row(cls, row: TermRow) -> Term:
        return cls(
            row_id=row.id,
            code=row.code,
            name=row.name,
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            is_current=row.is_current,
            require_children_approved=row.require_children_approved,
        )


# What the fields of a congress read, for one congress (the resolvers below) or for every
# congress of a level at once (planned reads, graph/planner/).


async def _holders(context: Context, congresses: Sequence[Congress]) -> list[Committee | None]:
    rows = await context.loaders.committee_by_id.load_many(
        [congress.row.committee_id for congress in congresses]
    )
    return [None if row is None else Committee.from_row(row) for row in rows]


async def _milestones(context: Context, congress: Congress) -> list[MilestoneState]:
    pairs = await resolve_progress.milestones(context, congress.row)
    return [MilestoneState.of(template, state) for template, state in pairs]


async def _results(
    context: Context, congresses: Sequence[Congress]
) -> list[CongressResults | None]:
    rows = await context.progress.results.load_many([congress.row.id for congress in congresses])
    return [None if row is None else CongressResults.from_row(row) for row in rows]


async def _reports(context: Context, congresses: Sequence[Congress]) -> list[CongressReport]:
    reads = await context.progress.reports.load_many([congress.row.id for congress in congresses])
    return [
        CongressReport.of(congress.row, read)
        for congress, read in zip(congresses, reads, strict=True)
    ]


async def _pending_approvals(
    context: Context,
    committee: Committee,
    term: str | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Connection[Congress]:
    page, term_row = await resolve_summary.pending_approvals(
        context, committee.row, term, first, after
    )
    return connection_from_page(
        page, lambda row: Congress.from_row(row, term_row), lambda row: row.id
    )


async def _history(
    context: Context, congress: Congress, first: int | None = None, after: str | None = None
) -> Connection[CongressHistoryEvent]:
    page = await resolve_progress.history(context, congress.row, first, after)
    return connection_from_page(page, CongressHistoryEvent.from_row, lambda row: row.id)


@strawberry.type(description="The congress a committee holds in one term (đại hội).")
class Congress(Node):
    # A field the planner may read from a column says which (graph/planner/sql.py).
    id: strawberry.ID = strawberry.field(metadata=sql_column("id", global_id_of="Congress"))
    row: strawberry.Private[CongressRow]
    term: Term
    deadline: datetime.date | None = strawberry.field(metadata=sql_column("deadline"))
    status: CongressStatus = strawberry.field(metadata=sql_column("status"))  # type: ignore[valid-type]
    version: int = strawberry.field(
        description="Send it back as expectedVersion when recording.",
        metadata=sql_column("version"),
    )
    held_on: datetime.date | None = strawberry.field(
        description="When the congress was held.", metadata=sql_column("held_on")
    )

    @classmethod
    def from_row(cls, row: CongressRow, term: TermRow) -> Congress:
        return cls(
            id=strawberry.ID(str(GlobalId(resolve.CONGRESS_TYPE, row.id))),
            row=row,
            term=Term.from_row(term),
            deadline=row.deadline,
            status=row.status,
            version=row.version,
            held_on=row.held_on,
        )

    @strawberry.field(description="The committee that holds it.", metadata=planned(_holders))
    async def committee(self, info: Info) -> Committee | None:
        return (await _holders(info.context, [self]))[0]

    @strawberry.field(description="Past its deadline and not yet held (dates in Vietnam's time).")
    def overdue(self) -> bool:
        return resolve_progress.is_overdue(self.row)

    @strawberry.field(description="Days past the deadline it was held, or is so far; 0 if on time.")
    def days_late(self) -> int | None:
        return resolve_progress.days_late(self.row)

    @strawberry.field(
        description="Every step of the term's template, in order, as last recorded.",
        metadata=planned(for_each(_milestones)),
    )
    async def milestones(self, info: Info) -> list[MilestoneState]:
        return await _milestones(info.context, self)

    @strawberry.field(description="The results, once recorded.", metadata=planned(_results))
    async def results(self, info: Info) -> CongressResults | None:
        return (await _results(info.context, [self]))[0]

    @strawberry.field(description="Its report to the level above.", metadata=planned(_reports))
    async def report(self, info: Info) -> CongressReport:
        return (await _reports(info.context, [self]))[0]

    @strawberry.field(
        description="Everything recorded about this congress, newest first.",
        metadata=planned(for_each(_history)),
    )
    async def history(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[CongressHistoryEvent]:
        return await _history(info.context, self, first, after)


# What the fields of a committee read, for one committee (the resolvers below) or for every
# committee of a level at once (planned reads, graph/planner/).


async def _parent(context: Context, committee: Committee) -> Committee | None:
    found = await resolve.parent(context, committee.row)
    return None if found is None else Committee.from_row(found)


async def _ancestors(context: Context, committee: Committee) -> list[Committee]:
    return [Committee.from_row(row) for row in await resolve.ancestors(context, committee.row)]


async def _progress(
    context: Context,
    committees: Sequence[Committee],
    term: str | None = None,
    selected: frozenset[str] | None = None,
) -> list[SubtreeProgressFigures | None]:
    found = await resolve_summary.subtree_progress_of(
        context, [committee.row for committee in committees], term, counters_shown(selected)
    )
    return [
        None
        if progress is None
        else SubtreeProgressFigures.of(
            progress.summary, progress.term, progress.templates, committee.row.depth
        )
        for committee, progress in zip(committees, found, strict=True)
    ]


async def _merged_into(context: Context, committees: Sequence[Committee]) -> list[Committee | None]:
    merged = [committee.row.merged_into_id for committee in committees]
    rows = await context.loaders.committee_by_id.load_many([i for i in merged if i is not None])
    by_id = {row.id: row for row in rows if row is not None}
    return [
        None if target is None or target not in by_id else Committee.from_row(by_id[target])
        for target in merged
    ]


async def _children(
    context: Context,
    committees: Sequence[Committee],
    first: int | None = None,
    after: str | None = None,
    include_closed: bool = False,
) -> list[Connection[Committee]]:
    pages = await resolve.children_of(
        context, [committee.row for committee in committees], first, after, include_closed
    )
    return [connection_from_page(page, Committee.from_row, _committee_id) for page in pages]


async def _congresses(
    context: Context, committees: Sequence[Committee], term: str | None = None
) -> list[Congress | None]:
    found = await resolve.congresses_of(context, [committee.row for committee in committees], term)
    return [None if pair is None else Congress.from_row(*pair) for pair in found]


@strawberry.type(description="One node of the party organisation tree.")
class Committee(Node):
    id: strawberry.ID = strawberry.field(metadata=sql_column("id", global_id_of="Committee"))
    row: strawberry.Private[CommitteeRow]
    code: str = strawberry.field(metadata=sql_column("code"))
    name: str = strawberry.field(metadata=sql_column("name"))
    kind: CommitteeKind = strawberry.field(metadata=sql_column("kind"))  # type: ignore[valid-type]
    depth: int = strawberry.field(
        description="Number of levels from the root; the root is 1.", metadata=sql_column("depth")
    )
    version: int = strawberry.field(
        description="Send it back as expectedVersion when changing.",
        metadata=sql_column("version"),
    )
    closed_at: datetime.datetime | None = strawberry.field(
        description="When the unit was closed (or merged away); null while it is open."
    )

    @classmethod
    def from_row(cls, row: CommitteeRow) -> Committee:
        return cls(
            id=strawberry.ID(str(GlobalId(resolve.COMMITTEE_TYPE, row.id))),
            row=row,
            code=row.code,
            name=row.name,
            kind=row.kind,
            depth=row.depth,
            version=row.version,
            closed_at=row.closed_at,
        )

    @strawberry.field(
        description="Null at the root and at the top of the viewer's scope.",
        metadata=planned(for_each(_parent)),
    )
    async def parent(self, info: Info) -> Committee | None:
        return await _parent(info.context, self)

    @strawberry.field(
        description="Ancestors from the top of the viewer's scope down to the parent.",
        metadata=planned(for_each(_ancestors)),
    )
    async def ancestors(self, info: Info) -> list[Committee]:
        return await _ancestors(info.context, self)

    @strawberry.field(
        description="The congresses of this committee's subtree (itself included) in a term "
        "(the current one if omitted), added up: read from rollups kept by every write, so it "
        "costs the same at the centre as at a cell. Null for an unknown term.",
        metadata={**planned(_progress, told_selection=True), **costs(per_object=SUMMARY_COST)},
    )
    async def progress(self, info: Info, term: str | None = None) -> SubtreeProgressFigures | None:
        return (await _progress(info.context, [self], term))[0]

    @strawberry.field(
        description="The unit this one was merged into, if you can see it.",
        metadata=planned(_merged_into),
    )
    async def merged_into(self, info: Info) -> Committee | None:
        return (await _merged_into(info.context, [self]))[0]

    @strawberry.field(
        description="Open units below this one (closed ones too with includeClosed).",
        metadata=planned(_children, sql=SqlRelation.CHILDREN),
    )
    async def children(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        include_closed: bool = False,
    ) -> Connection[Committee]:
        return (await _children(info.context, [self], first, after, include_closed))[0]

    @strawberry.field(
        description="The congresses below this committee whose reports wait for a decision "
        "(SUBMITTED), in a term (the current one if omitted), the longest waiting first: an "
        "approver's inbox.",
        metadata=planned(for_each(_pending_approvals)),
    )
    async def pending_approvals(
        self,
        info: Info,
        term: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Congress]:
        return await _pending_approvals(info.context, self, term, first, after)

    @strawberry.field(
        description="This committee's congress in a term (the current term if omitted).",
        metadata=planned(_congresses, sql=SqlRelation.CONGRESS),
    )
    async def congress(self, info: Info, term: str | None = None) -> Congress | None:
        return (await _congresses(info.context, [self], term))[0]


def _committee_id(row: CommitteeRow) -> int:
    return row.id
