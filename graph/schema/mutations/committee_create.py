"""createCommittee / renameCommittee: new units below an admin, and new names."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graph.context import Info
from graph.resolvers import tree_changes
from graph.schema.committee import Committee, CommitteeKind
from graph.schema.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ValidationError,
    VersionConflict,
    payload_or_error,
)
from graph.schema.mutations.reload import committee_after
from models import Committee as CommitteeRow


@strawberry.input
class CreateCommitteeInput:
    parent_id: strawberry.ID
    code: str
    name: str
    kind: CommitteeKind  # type: ignore[valid-type]


@strawberry.input
class RenameCommitteeInput:
    id: strawberry.ID
    name: str
    expected_version: int | None = strawberry.field(
        default=None, description="The version you read; if it changed since, nothing happens."
    )


@strawberry.type
class CommitteePayload:
    committee: Committee | None


CommitteeResult = Annotated[
    CommitteePayload | NotFound | Forbidden | ValidationError | Conflict | VersionConflict,
    strawberry.union("CommitteeResult"),
]


async def committee_payload(info: Info, committee: CommitteeRow) -> CommitteePayload:
    return CommitteePayload(committee=await committee_after(info, committee))


async def create_committee(info: Info, input: CreateCommitteeInput) -> CommitteeResult:
    outcome = await tree_changes.create_committee(
        info.context, input.parent_id, input.code, input.name, input.kind
    )
    return await payload_or_error(outcome, lambda row: committee_payload(info, row))


async def rename_committee(info: Info, input: RenameCommitteeInput) -> CommitteeResult:
    outcome = await tree_changes.rename_committee(
        info.context, input.id, input.name, input.expected_version
    )
    return await payload_or_error(outcome, lambda row: committee_payload(info, row))
