"""Difficulties: reads within the viewer's scope, and the writes with who may do them.

Who may raise, comment, escalate and resolve is the policy's (permissions/policy.py); the
writes themselves live in `models.difficulties`.
"""

from __future__ import annotations

from domain.exactly_once import Answer
from graph.context import Context
from graph.global_ids import row_id_of
from graph.loaders import DifficultyEventsPageKey
from graph.resolvers import committees as read_committees
from graph.resolvers.mutations import unit_of_work, visible_committee
from graph.resolvers.pagination import Page, decode_cursor, page_size, split_page
from models import (
    Committee,
    Difficulty,
    DifficultyCategory,
    DifficultyEvent,
    DifficultyStatus,
    difficulties,
)
from models.refusals import NotVisible, Refusal
from permissions import policy, visible_difficulties
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


async def raise_difficulty(
    context: Context,
    *,
    committee_id: str,
    title: str,
    description: str,
    category: DifficultyCategory,
    idempotency_key: str | None,
) -> Answer | Refusal:
    unit = unit_of_work(context)

    async def act() -> Difficulty:
        committee = await visible_committee(context, committee_id, "committeeId")
        policy.may_raise_difficulty(unit.viewer, committee)
        return await difficulties.raise_difficulty(
            unit.session,
            unit.actor,
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
    return await unit.run_exactly_once("raiseDifficulty", request, idempotency_key, act)


async def comment_difficulty(
    context: Context,
    *,
    difficulty_id: str,
    body: str,
    expected_version: int | None,
    idempotency_key: str | None,
) -> Answer | Refusal:
    unit = unit_of_work(context)

    async def act() -> Difficulty:
        difficulty = await _visible_difficulty(context, difficulty_id)
        raised_at = await committee_if_visible(context, difficulty.committee_id)
        policy.may_comment_difficulty(unit.viewer, raised_at)
        await difficulties.comment_difficulty(
            unit.session,
            unit.actor,
            difficulty=difficulty,
            body=body,
            expected_version=expected_version,
        )
        return difficulty

    request = {"difficultyId": difficulty_id, "body": body, "expectedVersion": expected_version}
    return await unit.run_exactly_once("commentDifficulty", request, idempotency_key, act)


async def escalate_difficulty(
    context: Context,
    *,
    difficulty_id: str,
    expected_version: int | None,
    idempotency_key: str | None,
) -> Answer | Refusal:
    unit = unit_of_work(context)

    async def act() -> Difficulty:
        difficulty = await _visible_difficulty(context, difficulty_id)
        handled_at = await committee_if_visible(context, difficulty.handling_committee_id)
        policy.may_escalate_difficulty(unit.viewer, handled_at)
        await difficulties.escalate_difficulty(
            unit.session,
            unit.actor,
            difficulty=difficulty,
            expected_version=expected_version,
        )
        return difficulty

    request = {"difficultyId": difficulty_id, "expectedVersion": expected_version}
    return await unit.run_exactly_once("escalateDifficulty", request, idempotency_key, act)


async def resolve_difficulty(
    context: Context,
    *,
    difficulty_id: str,
    resolution: str,
    expected_version: int | None,
    idempotency_key: str | None,
) -> Answer | Refusal:
    unit = unit_of_work(context)

    async def act() -> Difficulty:
        difficulty = await _visible_difficulty(context, difficulty_id)
        handled_at = await committee_if_visible(context, difficulty.handling_committee_id)
        policy.may_resolve_difficulty(unit.viewer, handled_at)
        await difficulties.resolve_difficulty(
            unit.session,
            unit.actor,
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
    return await unit.run_exactly_once("resolveDifficulty", request, idempotency_key, act)
