"""setDeadline: an admin of an ancestor sets when congresses must be held."""

from __future__ import annotations

import datetime
from typing import Annotated

import strawberry

from graph.context import Info
from graph.resolvers import progress
from graph.schema.committee import Congress
from graph.schema.errors import Conflict, Forbidden, NotFound, ReportLocked, ValidationError
from graph.schema.mutations.milestone_record import (
    EXPECTED_VERSION_HELP,
    CongressVersionConflict,
    congress_now,
    congress_refusal,
)
from models.refusals import Refusal


@strawberry.input
class SetDeadlineInput:
    committee_id: strawberry.ID = strawberry.field(
        description="The committee whose congress gets the deadline, or, with `depth`, the "
        "committee under which a whole level gets it."
    )
    deadline: datetime.date
    depth: int | None = strawberry.field(
        default=None,
        description="A level (absolute depth) below `committeeId`: all its congresses.",
    )
    term: str | None = None
    expected_version: int | None = strawberry.field(
        default=None, description=EXPECTED_VERSION_HELP + " (A single congress only.)"
    )


@strawberry.type
class SetDeadlinePayload:
    updated: int = strawberry.field(description="How many congresses got the new deadline.")
    congress: Congress | None = strawberry.field(description="The congress, when setting one.")


SetDeadlineResult = Annotated[
    SetDeadlinePayload
    | NotFound
    | Forbidden
    | ValidationError
    | Conflict
    | CongressVersionConflict
    | ReportLocked,
    strawberry.union("SetDeadlineResult"),
]


async def set_deadline(info: Info, input: SetDeadlineInput) -> SetDeadlineResult:
    outcome = await progress.set_deadline(
        info.context,
        committee_id=input.committee_id,
        term=input.term,
        deadline=input.deadline,
        depth=input.depth,
        expected_version=input.expected_version,
    )
    if isinstance(outcome, Refusal):
        return await congress_refusal(info, outcome)
    recorded, updated = outcome
    congress = None if recorded is None else await congress_now(info, recorded.row_id)
    return SetDeadlinePayload(updated=updated, congress=congress)
