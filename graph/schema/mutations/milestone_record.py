"""recordMilestone / recordResults: what officials record every day about their congress."""

from __future__ import annotations

import datetime
from typing import Annotated

import strawberry

from domain.exactly_once import Answer
from graph.context import Info
from graph.resolvers import progress
from graph.schema.committee import Congress
from graph.schema.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ReportLocked,
    ValidationError,
    error_from_refusal,
    report_error,
)
from graph.schema.progress import MilestoneStatus
from models.congress_progress import Results
from models.refusals import Refusal, StaleVersion

IDEMPOTENCY_KEY_HELP = (
    "Any unique string (a UUID): sending the same request again with it returns the first "
    "answer instead of recording twice."
)
EXPECTED_VERSION_HELP = "The congress version you read; if it changed since, nothing is recorded."


@strawberry.input
class RecordMilestoneInput:
    committee_id: strawberry.ID
    milestone: str = strawberry.field(description="A step code of the term's template.")
    status: MilestoneStatus  # type: ignore[valid-type]
    occurred_on: datetime.date | None = strawberry.field(
        default=None, description="When it was reached (DONE) or started (IN_PROGRESS)."
    )
    note: str | None = None
    term: str | None = strawberry.field(
        default=None, description="Term code; the current one if omitted."
    )
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION_HELP)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY_HELP)


@strawberry.input
class RecordResultsInput:
    committee_id: strawberry.ID
    delegates_expected: int
    delegates_present: int
    members_elected: int
    women: int
    under40: int
    ethnic_minority: int
    secretary_directly_elected: bool
    delegates_to_higher_congress: int
    term: str | None = None
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION_HELP)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY_HELP)

    def results(self) -> Results:
        return Results(
            delegates_expected=self.delegates_expected,
            delegates_present=self.delegates_present,
            members_elected=self.members_elected,
            women=self.women,
            under_40=self.under40,
            ethnic_minority=self.ethnic_minority,
            secretary_directly_elected=self.secretary_directly_elected,
            delegates_to_higher_congress=self.delegates_to_higher_congress,
        )


@strawberry.type
class CongressPayload:
    congress: Congress | None
    recorded_version: int = strawberry.field(description="The congress version this request made.")
    replayed: bool = strawberry.field(
        description="True when this answers a repeat of an earlier request (same idempotency key)."
    )


@strawberry.type(description="The congress changed since you read it; here is how it is now.")
class CongressVersionConflict:
    message: str
    current_version: int
    congress: Congress | None


CongressResult = Annotated[
    CongressPayload
    | NotFound
    | Forbidden
    | ValidationError
    | Conflict
    | CongressVersionConflict
    | ReportLocked,
    strawberry.union("CongressResult"),
]


async def congress_now(info: Info, congress_id: int) -> Congress | None:
    """The congress as it is after the change, read through the scoped loaders."""
    found = await info.context.progress.congress_by_id.load(congress_id)
    return None if found is None else Congress.from_row(*found)


async def congress_refusal(
    info: Info, refusal: Refusal
) -> NotFound | Forbidden | ValidationError | Conflict | CongressVersionConflict | ReportLocked:
    """A refused congress write; a stale version comes with the congress as it is now."""
    locked = report_error(refusal)
    if isinstance(locked, ReportLocked):
        return locked
    if isinstance(refusal, StaleVersion):
        return CongressVersionConflict(
            message=refusal.message,
            current_version=refusal.current_version,
            congress=await congress_now(info, refusal.row_id),
        )
    return error_from_refusal(refusal)  # type: ignore[return-value]


async def shape(info: Info, outcome: Answer | Refusal) -> CongressResult:
    if isinstance(outcome, Refusal):
        return await congress_refusal(info, outcome)
    return CongressPayload(
        congress=await congress_now(info, outcome.row_id),
        recorded_version=outcome.version,
        replayed=outcome.replayed,
    )


async def record_milestone(info: Info, input: RecordMilestoneInput) -> CongressResult:
    outcome = await progress.record_milestone(
        info.context,
        committee_id=input.committee_id,
        term=input.term,
        milestone=input.milestone,
        status=input.status,
        occurred_on=input.occurred_on,
        note=input.note,
        expected_version=input.expected_version,
        idempotency_key=input.idempotency_key,
    )
    return await shape(info, outcome)


async def record_results(info: Info, input: RecordResultsInput) -> CongressResult:
    outcome = await progress.record_results(
        info.context,
        committee_id=input.committee_id,
        term=input.term,
        results=input.results(),
        expected_version=input.expected_version,
        idempotency_key=input.idempotency_key,
    )
    return await shape(info, outcome)
