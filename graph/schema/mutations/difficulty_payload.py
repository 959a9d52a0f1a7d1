"""What every difficulty mutation answers: the difficulty afterwards, or a typed error."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.exactly_once import Answer
from graph.context import Info
from graph.schema.difficulty import Difficulty
from graph.schema.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ValidationError,
    VersionConflict,
    payload_or_error,
)
from models.refusals import Refusal

IDEMPOTENCY_KEY_HELP = (
    "Any unique string of up to 128 characters (a UUID): sending the same request again with "
    "it returns the first answer instead of acting twice."
)
EXPECTED_VERSION_HELP = "The difficulty version you read; if it changed since, nothing happens."


@strawberry.type
class DifficultyPayload:
    difficulty: Difficulty | None = strawberry.field(
        description="The difficulty as it is now, read again after the change."
    )
    recorded_version: int = strawberry.field(
        description="The difficulty version this request made."
    )
    replayed: bool = strawberry.field(
        description="True when this answers a repeat of an earlier request (same idempotency key)."
    )


DifficultyResult = Annotated[
    DifficultyPayload | NotFound | Forbidden | ValidationError | Conflict | VersionConflict,
    strawberry.union("DifficultyResult"),
]


async def difficulty_result(info: Info, outcome: Answer | Refusal) -> DifficultyResult:
    """The payload, with the difficulty read again through the fresh, scoped loaders."""

    async def payload(answer: Answer) -> DifficultyPayload:
        fresh = await info.context.loaders.difficulty_by_id.load(answer.row_id)
        return DifficultyPayload(
            difficulty=None if fresh is None else Difficulty.from_row(fresh),
            recorded_version=answer.version,
            replayed=answer.replayed,
        )

    return await payload_or_error(outcome, payload)
