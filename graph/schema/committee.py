"""Committee and Congress: the tree and what each node holds per term."""

from __future__ import annotations

import datetime

import strawberry

from graph.context import Info
from graph.global_ids import GlobalId
from graph.resolvers import committees as resolve
from graph.resolvers import progress as resolve_progress
from graph.resolvers import progress_summary as resolve_summary
from graph.schema.node import Node
from graph.schema.pagination import Connection, connection_from_page
from graph.schema.progress import (
    CongressHistoryEvent,
    CongressResults,
    CongressStatus,
    MilestoneState,
)
from graph.schema.progress_summary import SubtreeProgressFigures
from models import Congress as CongressRow
from models import Term as TermRow
from models.tree import Committee as CommitteeRow
from models.tree import CommitteeKind as CommitteeKindValue

CommitteeKind = strawberry.enum(CommitteeKindValue, name="CommitteeKind")


@strawberry.type(description="A congress cycle, e.g. 2025-2030 (nhiệm kỳ).")
class Term:
    code: str
    name: str
    starts_on: datetime.date
    ends_on: datetime.date
    is_current: bool

    @classmethod
    def from_row(cls, row: TermRow) -> Term:
        return cls(
            code=row.code,
            name=row.name,
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            is_current=row.is_current,
        )


@strawberry.type(description="The congress a committee holds in one term (đại hội).")
class Congress(Node):
    row: strawberry.Private[CongressRow]
    term: Term
    deadline: datetime.date | None
    status: CongressStatus  # type: ignore[valid-type]
    version: int = strawberry.field(description="Send it back as expectedVersion when recording.")
    held_on: datetime.date | None = strawberry.field(description="When the congress was held.")

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

    @strawberry.field(description="The committee that holds it.")
    async def committee(self, info: Info) -> Committee | None:
        row = await info.context.loaders.committee_by_id.load(self.row.committee_id)
        return None if row is None else Committee.from_row(row)

    @strawberry.field(description="Past its deadline and not yet held (dates in Vietnam's time).")
    def overdue(self) -> bool:
        return resolve_progress.is_overdue(self.row)

    @strawberry.field(description="Days past the deadline it was held, or is so far; 0 if on time.")
    def days_late(self) -> int | None:
        return resolve_progress.days_late(self.row)

    @strawberry.field(description="Every step of the term's template, in order, as last recorded.")
    async def milestones(self, info: Info) -> list[MilestoneState]:
        pairs = await resolve_progress.milestones(info.context, self.row)
        return [MilestoneState.of(template, state) for template, state in pairs]

    @strawberry.field(description="The results, once recorded.")
    async def results(self, info: Info) -> CongressResults | None:
        row = await info.context.progress.results.load(self.row.id)
        return None if row is None else CongressResults.from_row(row)

    @strawberry.field(description="Everything recorded about this congress, newest first.")
    async def history(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[CongressHistoryEvent]:
        page = await resolve_progress.history(info.context, self.row, first, after)
        return connection_from_page(page, CongressHistoryEvent.from_row, lambda row: row.id)


@strawberry.type(description="One node of the party organisation tree.")
class Committee(Node):
    row: strawberry.Private[CommitteeRow]
    code: str
    name: str
    kind: CommitteeKind  # type: ignore[valid-type]
    depth: int = strawberry.field(description="Number of levels from the root; the root is 1.")
    version: int = strawberry.field(description="Send it back as expectedVersion when changing.")
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

    @strawberry.field(description="Null at the root and at the top of the viewer's scope.")
    async def parent(self, info: Info) -> Committee | None:
        found = await resolve.parent(info.context, self.row)
        return None if found is None else Committee.from_row(found)

    @strawberry.field(
        description="Ancestors from the top of the viewer's scope down to the parent."
    )
    async def ancestors(self, info: Info) -> list[Committee]:
        return [Committee.from_row(row) for row in await resolve.ancestors(info.context, self.row)]

    @strawberry.field(
        description="The congresses of this committee's subtree (itself included) in a term "
        "(the current one if omitted), added up: read from rollups kept by every write, so it "
        "costs the same at the centre as at a cell. Null for an unknown term."
    )
    async def progress(self, info: Info, term: str | None = None) -> SubtreeProgressFigures | None:
        found = await resolve_summary.subtree_progress(info.context, self.row, term)
        if found is None:
            return None
        return SubtreeProgressFigures.of(found.summary, found.term, found.templates, self.row.depth)

    @strawberry.field(description="The unit this one was merged into, if you can see it.")
    async def merged_into(self, info: Info) -> Committee | None:
        if self.row.merged_into_id is None:
            return None
        row = await info.context.loaders.committee_by_id.load(self.row.merged_into_id)
        return None if row is None else Committee.from_row(row)

    @strawberry.field(description="Open units below this one (closed ones too with includeClosed).")
    async def children(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        include_closed: bool = False,
    ) -> Connection[Committee]:
        page = await resolve.children(info.context, self.row, first, after, include_closed)
        return connection_from_page(page, Committee.from_row, _committee_id)

    @strawberry.field(
        description="This committee's congress in a term (the current term if omitted)."
    )
    async def congress(self, info: Info, term: str | None = None) -> Congress | None:
        found = await resolve.congress(info.context, self.row, term)
        return None if found is None else Congress.from_row(*found)


def _committee_id(row: CommitteeRow) -> int:
    return row.id
