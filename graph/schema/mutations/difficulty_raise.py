"""raiseDifficulty: a unit reports a problem; its own level handles it first."""

from __future__ import annotations

import strawberry

from graph.context import Info
from graph.resolvers import difficulties
from graph.schema.difficulty import DifficultyCategory
from graph.schema.mutations.difficulty_payload import (
    IDEMPOTENCY_KEY_HELP,
    DifficultyResult,
    difficulty_result,
)


@strawberry.input
class RaiseDifficultyInput:
    committee_id: strawberry.ID = strawberry.field(description="The unit with the problem.")
    title: str = strawberry.field(description="1-200 characters.")
    description: str = strawberry.field(default="", description="Up to 5,000 characters.")
    category: DifficultyCategory  # type: ignore[valid-type]
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY_HELP)


async def raise_difficulty(info: Info, input: RaiseDifficultyInput) -> DifficultyResult:
    outcome = await difficulties.raise_difficulty(
        info.context,
        committee_id=input.committee_id,
        title=input.title,
        description=input.description,
        category=input.category,
        idempotency_key=input.idempotency_key,
    )
    return await difficulty_result(info, outcome)
