"""What a congress's progress looks like to a client: milestones, results, history."""

from __future__ import annotations

import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, cast

import strawberry
from strawberry.scalars import JSON

from graph.context import Info
from graph.resolvers.audit import redacted
from models import CongressEvent as CongressEventRow
from models import CongressMilestone, CongressResult, MilestoneTemplate
from models.congress import CongressStatus as CongressStatusValue
from models.congress import MilestoneStatus as MilestoneStatusValue

if TYPE_CHECKING:
    from graph.schema.committee import Congress

CongressStatus = strawberry.enum(CongressStatusValue, name="CongressStatus")
MilestoneStatus = strawberry.enum(MilestoneStatusValue, name="MilestoneStatus")


@strawberry.type(description="One step of a congress, as last recorded.")
class MilestoneState:
    milestone: str = strawberry.field(description="The step's code in the term's template.")
    name: str
    position: int
    prerequisite: str | None
    status: MilestoneStatus  # type: ignore[valid-type]
    occurred_on: datetime.date | None
    note: str | None
    recorded_by: str | None = strawberry.field(description="Subject of who recorded it.")
    recorded_at: datetime.datetime | None
    version: int | None = strawberry.field(description="The congress version that set it.")

    @classmethod
    def of(cls, template: MilestoneTemplate, state: CongressMilestone | None) -> MilestoneState:
        return cls(
            milestone=template.code,
            name=template.name,
            position=template.position,
            prerequisite=template.prerequisite_code,
            status=state.status if state else MilestoneStatusValue.NOT_STARTED,
            occurred_on=state.occurred_on if state else None,
            note=state.note if state else None,
            recorded_by=state.recorded_by_subject if state else None,
            recorded_at=state.recorded_at if state else None,
            version=state.version if state else None,
        )


@strawberry.type(description="What the congress produced (kết quả đại hội).")
class CongressResults:
    delegates_expected: int
    delegates_present: int
    members_elected: int
    women: int
    under40: int
    ethnic_minority: int
    secretary_directly_elected: bool
    delegates_to_higher_congress: int
    recorded_by: str | None
    recorded_at: datetime.datetime
    version: int

    @classmethod
    def from_row(cls, row: CongressResult) -> CongressResults:
        return cls(
            delegates_expected=row.delegates_expected,
            delegates_present=row.delegates_present,
            members_elected=row.members_elected,
            women=row.women,
            under40=row.under_40,
            ethnic_minority=row.ethnic_minority,
            secretary_directly_elected=row.secretary_directly_elected,
            delegates_to_higher_congress=row.delegates_to_higher_congress,
            recorded_by=row.recorded_by_subject,
            recorded_at=row.recorded_at,
            version=row.version,
        )


_STATUS_NAMES = {status.value: status.name for status in MilestoneStatusValue}


def with_status_named(change: dict[str, object]) -> dict[str, object]:
    """A milestone event's payload keeps the stored status value (`done`); a client reads
    the enum's name everywhere else (`DONE`)."""
    status = change.get("status")
    if not isinstance(status, str):
        return change
    return {**change, "status": _STATUS_NAMES.get(status, status)}


@strawberry.enum(description="What one history event of a congress recorded.")
class CongressEventKind(Enum):
    # The values are what the event rows store.
    MILESTONE = "milestone"
    RESULTS = "results"
    DEADLINE = "deadline"


@strawberry.type(description="One recorded change; corrections are more of these, never edits.")
class CongressHistoryEvent:
    row: strawberry.Private[CongressEventRow]
    version: int
    kind: CongressEventKind
    recorded_by: str | None
    recorded_at: datetime.datetime

    @classmethod
    def from_row(cls, row: CongressEventRow) -> CongressHistoryEvent:
        return cls(
            row=row,
            version=row.version,
            kind=CongressEventKind(row.kind),
            recorded_by=row.recorded_by_subject,
            recorded_at=row.recorded_at,
        )

    @strawberry.field(description="The congress it was recorded on.")
    async def congress(
        self, info: Info
    ) -> Annotated[Congress, strawberry.lazy("graph.schema.committee")] | None:
        from graph.schema.committee import Congress

        found = await info.context.progress.congress_by_id.load(self.row.congress_id)
        return None if found is None else Congress.from_row(*found)

    @strawberry.field(
        description="What changed; committees you cannot see read as null, and a milestone's "
        "status reads as the MilestoneStatus enum does (DONE)."
    )
    async def change(self, info: Info) -> JSON:
        change = await redacted(info.context, self.row.payload)
        return cast(
            JSON, with_status_named(change) if self.kind is CongressEventKind.MILESTONE else change
        )
