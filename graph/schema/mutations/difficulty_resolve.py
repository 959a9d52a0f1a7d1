"""resolveDifficulty: the level handling a difficulty, or one above it, closes it."""

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
class ResolveDifficultyInput:
    difficulty_id: strawberry.ID
    resolution: str = strawberry.field(description="How it was resolved: 1-5,000 characters.")
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION_HELP)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY_HELP)


async def resolve_difficulty(info: Info, input: ResolveDifficultyInput) -> DifficultyResult:
    outcome = await difficulties.resolve_difficulty(
        info.context,
        difficulty_id=input.difficulty_id,
        resolution=input.resolution,
        expected_version=input.expected_version,
        idempotency_key=input.idempotency_key,
    )
    return await difficulty_result(info, outcome)
