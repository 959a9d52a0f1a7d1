"""Difficulties: reads within the viewer's scope, and the writes with who may do them.

Raising and commenting need the reporter role where the difficulty is raised (a role covers
the subtree below it, so any level above counts too). Escalating and resolving need it at
the committee handling the difficulty now, or above: the level currently handling decides.
The writes themselves live in `models.difficulties`.
"""

from __future__ import annotations

from graph.context import Context
from graph.global_ids import row_id_of
from graph.loaders import DifficultyEventsPageKey
from graph.resolvers import committees as read_committees
from graph.resolvers.mutations import Answer, actor_of, run_exactly_once, visible_committee
from graph.resolvers.pagination import Page, decode_cursor, page_size, split_page
from models import (
    Committee,
    Difficulty,
    DifficultyCategory,
    DifficultyEvent,
    DifficultyStatus,
    Role,
    difficulties,
)
from models.refusals import NotAllowed, NotVisible, Refusal
from permissions import visible_difficulties
from permissions.visible_difficulties import DifficultyFilter

DIFFICULTY_TYPE = "Difficulty"
DIFFICULTY_EVENT_TYPE = "DifficultyEvent"


async def difficulty_by_global_id(context: Context, global_id: str) -> Difficulty | None:
    row_id = row_id_of(global_id, DIFFICULTY_TYPE)
    return None if row_id is None else await context.loaders.difficulty_by_id.load(row_id)


async def difficulties_page(
    context: Context,
    under: str | None,
    status: DifficultyStatus | None,
    handled_at: str | None,
    first: int | None,
    after: str | None,
) -> Page[Difficulty]:
    """Visible difficulties, newest first: raised under `under` if given, and handled now
    at `handled_at` if given (that level's inbox)."""
    size = page_size(first, context.settings)
    after_id = decode_cursor(after)
    scope = context.viewer.scope
    if under is not None:
        scope = scope.narrowed_to(
            (await read_committees.committee_argument(context, under, "under")).path
        )
    handling_id = None
    if handled_at is not None:
        handling_id = (
            await read_committees.committee_argument(context, handled_at, "handledAt")
        ).id
    where = DifficultyFilter(status=status, handling_committee_id=handling_id)
    found = await visible_difficulties.difficulty_page(
        context.session, scope, where, limit=size + 1, after_id=after_id
    )
    rows, has_next_page = split_page(found, size)

    async def total_count() -> int:
        return await visible_difficulties.difficulty_count(context.session, scope, where)

    return Page(rows, has_next_page, total_count)


async def events(
    context: Context, difficulty: Difficulty, first: int | None, after: str | None
) -> Page[DifficultyEvent]:
    """The difficulty's history, oldest first."""
    size = page_size(first, context.settings)
    key = DifficultyEventsPageKey(difficulty.id, size + 1, decode_cursor(after))
    rows, has_next_page = split_page(await context.loaders.difficulty_events_page.load(key), size)

    async def total_count() -> int:
        return await context.loaders.difficulty_events_count.load(difficulty.id)

    return Page(rows, has_next_page, total_count)


async def committee_if_visible(context: Context, committee_id: int | None) -> Committee | None:
    if committee_id is None:
        return None
    return await context.loaders.committee_by_id.load(committee_id)


async def _visible_difficulty(context: Context, global_id: str) -> Difficulty:
    difficulty = await difficulty_by_global_id(context, global_id)
    if difficulty is None:
        raise NotVisible("No difficulty found.", field="difficultyId")
    return difficulty


async def _require_reporter_at(context: Context, committee_id: int, message: str) -> None:
    # A committee outside the scope (a level above it) is one where the viewer has no role.
    committee = await context.loaders.committee_by_id.load(committee_id)
    if committee is None or not context.viewer.has_role_at(committee.path, Role.REPORTER):
        raise NotAllowed(message)


async def raise_difficulty(
    context: Context,
    *,
    committee_id: str,
    title: str,
    description: str,
    category: DifficultyCategory,
    idempotency_key: str | None,
) -> Answer | Refusal:
    async def act() -> Difficulty:
        committee = await visible_committee(context, committee_id, "committeeId")
        await _require_reporter_at(
            context, committee.id, "You need the reporter role at this committee."
        )
        return await difficulties.raise_difficulty(
            context.session,
            actor_of(context),
            committee=committee,
            title=title,
            description=description,
            category=category,
        )

    request = {
        "committeeId": committee_id,
        "title": title,
        "description": description,
        "category": category.value,
    }
    return await run_exactly_once(context, "raiseDifficulty", request, idempotency_key, act)


async def comment_difficulty(
    context: Context,
    *,
    difficulty_id: str,
    body: str,
    expected_version: int | None,
    idempotency_key: str | None,
) -> Answer | Refusal:
    async def act() -> Difficulty:
        difficulty = await _visible_difficulty(context, difficulty_id)
        await _require_reporter_at(
            context,
            difficulty.committee_id,
            "You need the reporter role where this difficulty was raised.",
        )
        await difficulties.comment_difficulty(
            context.session,
            actor_of(context),
            difficulty=difficulty,
            body=body,
            expected_version=expected_version,
        )
        return difficulty

    request = {"difficultyId": difficulty_id, "body": body, "expectedVersion": expected_version}
    return await run_exactly_once(context, "commentDifficulty", request, idempotency_key, act)


async def escalate_difficulty(
    context: Context,
    *,
    difficulty_id: str,
    expected_version: int | None,
    idempotency_key: str | None,
) -> Answer | Refusal:
    async def act() -> Difficulty:
        difficulty = await _visible_difficulty(context, difficulty_id)
        await _require_reporter_at(
            context,
            difficulty.handling_committee_id,
            "Only the level handling this difficulty (or one above it) can escalate it.",
        )
        await difficulties.escalate_difficulty(
            context.session,
            actor_of(context),
            difficulty=difficulty,
            expected_version=expected_version,
        )
        return difficulty

    request = {"difficultyId": difficulty_id, "expectedVersion": expected_version}
    return await run_exactly_once(context, "escalateDifficulty", request, idempotency_key, act)


async def resolve_difficulty(
    context: Context,
    *,
    difficulty_id: str,
    resolution: str,
    expected_version: int | None,
    idempotency_key: str | None,
) -> Answer | Refusal:
    async def act() -> Difficulty:
        difficulty = await _visible_difficulty(context, difficulty_id)
        await _require_reporter_at(
            context,
            difficulty.handling_committee_id,
            "Only the level handling this difficulty (or one above it) can resolve it.",
        )
        await difficulties.resolve_difficulty(
            context.session,
            actor_of(context),
            difficulty=difficulty,
            resolution=resolution,
            expected_version=expected_version,
        )
        return difficulty

    request = {
        "difficultyId": difficulty_id,
        "resolution": resolution,
        "expectedVersion": expected_version,
    }
    return await run_exactly_once(context, "resolveDifficulty", request, idempotency_key, act)
