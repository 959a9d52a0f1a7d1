"""Expected mutation failures, as types in the schema (errors as data)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry

from models.refusals import Conflicting, Invalid, NotAllowed, NotVisible, Refusal, StaleVersion
from models.report_rows import ReportState as ReportStateValue
from models.reports import MissingKind as MissingKindValue
from models.reports import ReportIncomplete as ReportIncompleteRefusal
from models.reports import ReportLocked as ReportLockedRefusal

ReportState = strawberry.enum(
    ReportStateValue, name="ReportState", description="Where a congress's report stands."
)
MissingKind = strawberry.enum(
    MissingKindValue, name="ReportMissingKind", description="What a report lacks."
)


@strawberry.interface(description="Why a mutation changed nothing.")
class MutationError:
    message: str


@strawberry.type(description="No such object, or none you can see: the two are never told apart.")
class NotFound(MutationError):
    field: str | None


@strawberry.type(description="You can see the object, but your role does not allow this.")
class Forbidden(MutationError):
    pass


@strawberry.type(description="The input breaks a rule; `field` names the input field.")
class ValidationError(MutationError):
    field: str | None


@strawberry.type(description="The request contradicts the current state.")
class Conflict(MutationError):
    field: str | None


@strawberry.type(description="Someone changed the object since you read it; nothing was changed.")
class VersionConflict(MutationError):
    current_version: int


@strawberry.type(
    description="The congress's report is submitted or approved: its milestones, results "
    "and deadline cannot change until the level above returns or reopens it."
)
class ReportLocked(MutationError):
    state: ReportState  # type: ignore[valid-type]


@strawberry.type(description="One thing a report needs before it can be submitted.")
class ReportMissingItem:
    kind: MissingKind  # type: ignore[valid-type]
    code: str = strawberry.field(description="The milestone's code, `results` or `children`.")
    label: str
    count: int | None = strawberry.field(
        description="For CHILDREN: how many committees below have no approved report."
    )


@strawberry.type(description="The report lacks what the term's template requires.")
class ReportIncomplete(MutationError):
    missing: list[ReportMissingItem]


ERROR_TYPES = (NotFound, Forbidden, ValidationError, Conflict, VersionConflict)
ErrorType = NotFound | Forbidden | ValidationError | Conflict | VersionConflict


def error_from_refusal(refusal: Refusal) -> ErrorType:
    if isinstance(refusal, StaleVersion):
        return VersionConflict(message=refusal.message, current_version=refusal.current_version)
    if isinstance(refusal, NotVisible):
        return NotFound(message=refusal.message, field=refusal.field)
    if isinstance(refusal, NotAllowed):
        return Forbidden(message=refusal.message)
    if isinstance(refusal, Invalid):
        return ValidationError(message=refusal.message, field=refusal.field)
    if isinstance(refusal, Conflicting):
        return Conflict(message=refusal.message, field=refusal.field)
    raise TypeError(f"unknown refusal {refusal!r}")


def report_error(refusal: Refusal) -> ReportLocked | ReportIncomplete | None:
    """The error type of a refusal about a congress's report; None for any other. Only
    the writes of a congress's progress and report can meet these (their unions say so)."""
    if isinstance(refusal, ReportLockedRefusal):
        return ReportLocked(message=refusal.message, state=refusal.state)
    if isinstance(refusal, ReportIncompleteRefusal):
        return ReportIncomplete(
            message=refusal.message,
            missing=[
                ReportMissingItem(
                    kind=item.kind, code=item.code, label=item.label, count=item.count
                )
                for item in refusal.missing
            ],
        )
    return None


Outcome = TypeVar("Outcome")
Payload = TypeVar("Payload")


async def payload_or_error(
    outcome: Outcome | Refusal, to_payload: Callable[[Outcome], Awaitable[Payload]]
) -> Payload | ErrorType:
    """Shape what a mutation resolver returned: its payload, or the error type of its refusal."""
    if isinstance(outcome, Refusal):
        return error_from_refusal(outcome)
    return await to_payload(outcome)
