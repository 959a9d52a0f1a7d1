"""submitReport, approveReport, returnReport, reopenReport: a congress's report goes up
the tree and comes back (models/reports.py)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.exactly_once import Answer
from graph.context import Info
from graph.resolvers.reports import move_report
from graph.schema.committee import Congress
from graph.schema.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ReportIncomplete,
    ValidationError,
    VersionConflict,
    error_from_refusal,
    report_error,
)
from graph.schema.mutations.milestone_record import IDEMPOTENCY_KEY_HELP, congress_now
from models.refusals import Refusal
from models.reports import ReportAction

EXPECTED_VERSION_HELP = (
    "The report version you read (Congress.report.version); if it changed since, nothing happens."
)
TERM_HELP = "Term code; the current one if omitted."


@strawberry.input(description="Which congress's report, at which version.")
class ReportInput:
    committee_id: strawberry.ID
    term: str | None = strawberry.field(default=None, description=TERM_HELP)
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION_HELP)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY_HELP)


@strawberry.input(description="Which congress's report, at which version, and why.")
class ReportDecisionInput:
    committee_id: strawberry.ID
    reason: str = strawberry.field(description="Why: required, shown to the committee.")
    term: str | None = strawberry.field(default=None, description=TERM_HELP)
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION_HELP)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY_HELP)


@strawberry.type
class ReportPayload:
    congress: Congress | None = strawberry.field(
        description="The congress, its report as the change left it."
    )
    recorded_version: int = strawberry.field(description="The report version this request made.")
    replayed: bool = strawberry.field(
        description="True when this answers a repeat of an earlier request (same idempotency key)."
    )


ReportResult = Annotated[
    ReportPayload
    | NotFound
    | Forbidden
    | ValidationError
    | Conflict
    | VersionConflict
    | ReportIncomplete,
    strawberry.union("ReportResult"),
]


async def _result(info: Info, outcome: Answer | Refusal) -> ReportResult:
    if isinstance(outcome, Refusal):
        incomplete = report_error(outcome)
        if isinstance(incomplete, ReportIncomplete):
            return incomplete
        return error_from_refusal(outcome)
    return ReportPayload(
        congress=await congress_now(info, outcome.row_id),
        recorded_version=outcome.version,
        replayed=outcome.replayed,
    )


async def _move(
    info: Info, action: ReportAction, input: ReportInput | ReportDecisionInput
) -> ReportResult:
    outcome = await move_report(
        info.context,
        action,
        committee_id=input.committee_id,
        term=input.term,
        expected_version=input.expected_version,
        reason=getattr(input, "reason", None),
        idempotency_key=input.idempotency_key,
    )
    return await _result(info, outcome)


async def submit_report(info: Info, input: ReportInput) -> ReportResult:
    return await _move(info, ReportAction.SUBMIT, input)


async def approve_report(info: Info, input: ReportInput) -> ReportResult:
    return await _move(info, ReportAction.APPROVE, input)


async def return_report(info: Info, input: ReportDecisionInput) -> ReportResult:
    return await _move(info, ReportAction.RETURN, input)


async def reopen_report(info: Info, input: ReportDecisionInput) -> ReportResult:
    return await _move(info, ReportAction.REOPEN, input)
