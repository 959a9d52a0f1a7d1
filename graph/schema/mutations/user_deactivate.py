"""deactivateUser / reactivateUser: an account stops (or resumes) being able to sign in."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graph.context import Info
from graph.resolvers import accounts
from graph.schema.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ValidationError,
    VersionConflict,
    payload_or_error,
)
from graph.schema.mutations.reload import user_after
from graph.schema.user import User
from models import User as UserRow


@strawberry.input
class UserIdInput:
    user_id: strawberry.ID
    expected_version: int | None = strawberry.field(
        default=None,
        description="The user's version you read; if it changed since, nothing happens.",
    )


@strawberry.type
class UserActivePayload:
    user: User | None


UserActiveResult = Annotated[
    UserActivePayload | NotFound | Forbidden | ValidationError | Conflict | VersionConflict,
    strawberry.union("UserActiveResult"),
]


async def _payload(info: Info, user: UserRow) -> UserActivePayload:
    return UserActivePayload(user=await user_after(info, user))


async def deactivate_user(info: Info, input: UserIdInput) -> UserActiveResult:
    outcome = await accounts.set_user_active(
        info.context, input.user_id, active=False, expected_version=input.expected_version
    )
    return await payload_or_error(outcome, lambda user: _payload(info, user))


async def reactivate_user(info: Info, input: UserIdInput) -> UserActiveResult:
    outcome = await accounts.set_user_active(
        info.context, input.user_id, active=True, expected_version=input.expected_version
    )
    return await payload_or_error(outcome, lambda user: _payload(info, user))
