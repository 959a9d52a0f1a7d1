"""escalateDifficulty: the level handling a difficulty hands it to the level above."""

from __future__ import annotations

import strawberry

from graph.context import Info
from graph.resolvers import difficulties
from graph.schema.mutations.difficulty_payload import (
    EXPECTED_VERSION_HELP,
    IDEMPOTENCY_KEY_HELP,
    DifficultyResult,
    difficulty_result,
)


@strawberry.input
class EscalateDifficultyInput:
    difficulty_id: strawberry.ID
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION_HELP)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY_HELP)


async def escalate_difficulty(info: Info, input: EscalateDifficultyInput) -> DifficultyResult:
    outcome = await difficulties.escalate_difficulty(
        info.context,
        difficulty_id=input.difficulty_id,
        expected_version=input.expected_version,
        idempotency_key=input.idempotency_key,
    )
    return await difficulty_result(info, outcome)
