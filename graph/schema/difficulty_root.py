"""The root query and mutation fields of difficulties, merged into Query and Mutation."""

from __future__ import annotations

import strawberry

from graph.context import Info
from graph.resolvers import difficulties as resolve
from graph.schema.difficulty import Difficulty, DifficultyStatus
from graph.schema.mutations import (
    difficulty_comment,
    difficulty_escalate,
    difficulty_raise,
    difficulty_resolve,
)
from graph.schema.pagination import Connection, connection_from_page
from models import Difficulty as DifficultyRow


@strawberry.type
class DifficultyQueries:
    @strawberry.field(description="A difficulty by global id; null if it is not visible to you.")
    async def difficulty(self, info: Info, id: strawberry.ID) -> Difficulty | None:
        row = await resolve.difficulty_by_global_id(info.context, id)
        return None if row is None else Difficulty.from_row(row)

    @strawberry.field(
        description="Difficulties raised in your scope (or under one of its committees), newest "
        "first. `handledAt` keeps those that committee handles now: its inbox."
    )
    async def difficulties(
        self,
        info: Info,
        under: strawberry.ID | None = None,
        status: DifficultyStatus | None = None,  # type: ignore[valid-type]
        handled_at: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Difficulty]:
        page = await resolve.difficulties_page(
            info.context, under, status, handled_at, first, after
        )
        return connection_from_page(page, Difficulty.from_row, _difficulty_id)


def _difficulty_id(row: DifficultyRow) -> int:
    return row.id


@strawberry.type
class DifficultyMutations:
    raise_difficulty = strawberry.mutation(
        resolver=difficulty_raise.raise_difficulty,
        description="Report a problem of a unit where you are a reporter; that unit handles "
        "it first.",
    )
    comment_difficulty = strawberry.mutation(
        resolver=difficulty_comment.comment_difficulty,
        description="Add to an open difficulty raised where you are a reporter (or below).",
    )
    escalate_difficulty = strawberry.mutation(
        resolver=difficulty_escalate.escalate_difficulty,
        description="Hand an open difficulty your level handles to the level above; "
        "the top level cannot.",
    )
    resolve_difficulty = strawberry.mutation(
        resolver=difficulty_resolve.resolve_difficulty,
        description="Close an open difficulty your level (or one below it) handles.",
    )
