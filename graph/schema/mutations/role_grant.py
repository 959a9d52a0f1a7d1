"""grantRole / revokeRole: an admin gives or takes a role at a committee in their subtree."""

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
from graph.schema.viewer import Role
from models import User as UserRow


@strawberry.input
class GrantRoleInput:
    user_id: strawberry.ID
    committee_id: strawberry.ID
    role: Role  # type: ignore[valid-type]
    expected_version: int | None = strawberry.field(
        default=None,
        description="The user's version you read; if it changed since, nothing happens.",
    )


@strawberry.input
class RevokeRoleInput:
    user_id: strawberry.ID
    committee_id: strawberry.ID
    expected_version: int | None = strawberry.field(
        default=None,
        description="The user's version you read; if it changed since, nothing happens.",
    )


@strawberry.type
class RolePayload:
    user: User | None = strawberry.field(
        description="The user afterwards; null if no role of theirs is left in your administration."
    )


RoleResult = Annotated[
    RolePayload | NotFound | Forbidden | ValidationError | Conflict | VersionConflict,
    strawberry.union("RoleResult"),
]


async def _payload(info: Info, user: UserRow) -> RolePayload:
    return RolePayload(user=await user_after(info, user))


async def grant_role(info: Info, input: GrantRoleInput) -> RoleResult:
    outcome = await accounts.grant_role(
        info.context, input.user_id, input.committee_id, input.role, input.expected_version
    )
    return await payload_or_error(outcome, lambda user: _payload(info, user))


async def revoke_role(info: Info, input: RevokeRoleInput) -> RoleResult:
    outcome = await accounts.revoke_role(
        info.context, input.user_id, input.committee_id, input.expected_version
    )
    return await payload_or_error(outcome, lambda user: _payload(info, user))
