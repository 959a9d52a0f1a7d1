"""moveCommittee / mergeCommittees / closeCommittee: reshaping the tree below an admin."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graph.context import Info
from graph.resolvers import tree_changes
from graph.schema.committee import Committee
from graph.schema.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ValidationError,
    VersionConflict,
    payload_or_error,
)
from graph.schema.mutations.committee_create import CommitteeResult, committee_payload
from graph.schema.mutations.reload import committee_after
from models import Committee as CommitteeRow


@strawberry.input
class MoveCommitteeInput:
    id: strawberry.ID
    new_parent_id: strawberry.ID
    expected_version: int | None = strawberry.field(
        default=None, description="The version you read; if it changed since, nothing happens."
    )


@strawberry.input
class MergeCommitteesInput:
    from_id: strawberry.ID = strawberry.field(description="The unit that is merged and closed.")
    into_id: strawberry.ID = strawberry.field(description="The unit that takes over its children.")
    expected_version: int | None = strawberry.field(
        default=None,
        description="The merged unit's version you read; if it changed since, nothing happens.",
    )


@strawberry.input
class CloseCommitteeInput:
    id: strawberry.ID
    expected_version: int | None = strawberry.field(
        default=None, description="The version you read; if it changed since, nothing happens."
    )


@strawberry.type
class MergeCommitteesPayload:
    merged: Committee | None = strawberry.field(description="The closed unit, history intact.")
    into: Committee | None


MergeCommitteesResult = Annotated[
    MergeCommitteesPayload | NotFound | Forbidden | ValidationError | Conflict | VersionConflict,
    strawberry.union("MergeCommitteesResult"),
]


async def move_committee(info: Info, input: MoveCommitteeInput) -> CommitteeResult:
    outcome = await tree_changes.move_committee(
        info.context, input.id, input.new_parent_id, input.expected_version
    )
    return await payload_or_error(outcome, lambda row: committee_payload(info, row))


async def close_committee(info: Info, input: CloseCommitteeInput) -> CommitteeResult:
    outcome = await tree_changes.close_committee(info.context, input.id, input.expected_version)
    return await payload_or_error(outcome, lambda row: committee_payload(info, row))


async def merge_committees(info: Info, input: MergeCommitteesInput) -> MergeCommitteesResult:
    outcome = await tree_changes.merge_committees(
        info.context, input.from_id, input.into_id, input.expected_version
    )

    async def payload(pair: tuple[CommitteeRow, CommitteeRow]) -> MergeCommitteesPayload:
        source, target = pair
        return MergeCommitteesPayload(
            merged=await committee_after(info, source), into=await committee_after(info, target)
        )

    return await payload_or_error(outcome, payload)
