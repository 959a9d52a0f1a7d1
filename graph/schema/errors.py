"""Expected mutation failures, as types in the schema (errors as data)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry

from models.refusals import Conflicting, Invalid, NotAllowed, NotVisible, Refusal, StaleVersion


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


Outcome = TypeVar("Outcome")
Payload = TypeVar("Payload")


async def payload_or_error(
    outcome: Outcome | Refusal, to_payload: Callable[[Outcome], Awaitable[Payload]]
) -> Payload | ErrorType:
    """Shape what a mutation resolver returned: its payload, or the error type of its refusal."""
    if isinstance(outcome, Refusal):
        return error_from_refusal(outcome)
    return await to_payload(outcome)
