"""createUser: an admin opens an official's account with a first role in their subtree."""

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
class CreateUserInput:
    subject: str = strawberry.field(description="The identity provider's subject (personal id).")
    name: str
    committee_id: strawberry.ID
    role: Role  # type: ignore[valid-type]


@strawberry.type
class CreateUserPayload:
    user: User | None


CreateUserResult = Annotated[
    CreateUserPayload | NotFound | Forbidden | ValidationError | Conflict | VersionConflict,
    strawberry.union("CreateUserResult"),
]


async def create_user(info: Info, input: CreateUserInput) -> CreateUserResult:
    outcome = await accounts.create_user(
        info.context, input.subject, input.name, input.committee_id, input.role
    )

    async def payload(user: UserRow) -> CreateUserPayload:
        return CreateUserPayload(user=await user_after(info, user))

    return await payload_or_error(outcome, payload)
