"""commentDifficulty: the unit, or any level above it, adds to an open difficulty."""

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
class CommentDifficultyInput:
    difficulty_id: strawberry.ID
    body: str = strawberry.field(description="1-5,000 characters.")
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION_HELP)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY_HELP)


async def comment_difficulty(info: Info, input: CommentDifficultyInput) -> DifficultyResult:
    outcome = await difficulties.comment_difficulty(
        info.context,
        difficulty_id=input.difficulty_id,
        body=input.body,
        expected_version=input.expected_version,
        idempotency_key=input.idempotency_key,
    )
    return await difficulty_result(info, outcome)
