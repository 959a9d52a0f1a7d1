"""Reads of progress across subtrees: summaries from rollups, timelines, overdue and recent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from graph.context import Context
from graph.errors import ClientError
from graph.progress_loaders import SubtreeKey, TimelineKey
from graph.resolvers.committees import committee_argument, term_named
from graph.resolvers.pagination import Page, decode_cursor, page_size, split_page
from models import Committee, Congress, CongressEvent, MilestoneTemplate, Term
from models.congress_progress import local_today, no_term_message
from models.progress_summary import (
    EVERY_COUNTER,
    CountersWanted,
    SubtreeProgress,
    timeline_points,
)
from permissions import visible_progress

# A daily curve over a whole term (five years) and then some; longer is a client error.
MAX_TIMELINE_POINTS = 2_000


@dataclass(frozen=True, slots=True)
class TermProgress:
    """A subtree summed up in one term, with the steps of the term's template."""

    summary: SubtreeProgress
    term: Term
    templates: Sequence[MilestoneTemplate]


async def subtree_progress_of(
    context: Context,
    committees: Sequence[Committee],
    term_code: str | None,
    wanted: CountersWanted = EVERY_COUNTER,
) -> list[TermProgress | None]:
    """Each committee's subtree summed up in a term (the current one if none is named), the
    `wanted` counters filled; None for an unknown term, as for `congress(term:)`. One
    statement for all of them."""
    terms = await context.terms.snapshot(context.session)
    term = terms.named_or_current(term_code)
    if term is None:
        return [None for _ in committees]
    summaries = await context.progress.subtree_progress.load_many(
        [SubtreeKey(committee.id, committee.path, term.id, wanted) for committee in committees]
    )
    templates = terms.templates_of(term.id)
    return [TermProgress(summary, term, templates) for summary in summaries]


async def timeline(
    context: Context,
    committee_id: int,
    term: Term,
    start: date | None,
    end: date | None,
    step_days: int,
) -> list[tuple[date, int]]:
    """Cumulative congresses held, one point every `step_days` from `start` to `end` (the
    term's start and today, or the term's end if it is over, when not given)."""
    start = start or term.starts_on
    end = end or min(local_today(), term.ends_on)
    if end < start:
        raise ClientError("`to` is before `from`.", argument="to")
    if (end - start).days // step_days + 1 > MAX_TIMELINE_POINTS:
        raise ClientError(
            f"That is more than {MAX_TIMELINE_POINTS:,} points; use a longer interval.",
            argument="interval",
        )
    before, by_day = await context.progress.held_timeline.load(
        TimelineKey(committee_id, term.id, start, end)
    )
    return timeline_points(before, by_day, start, end, step_days)


async def _term_argument(context: Context, term_code: str | None) -> Term:
    """The term a `term` argument names (the current one if None), or BAD_USER_INPUT."""
    term = await term_named(context, term_code)
    if term is None:
        raise ClientError(no_term_message(term_code), argument="term")
    return term


async def _under_and_term(
    context: Context, under: str, term_code: str | None
) -> tuple[Committee, Term]:
    committee = await committee_argument(context, under, "under")
    return committee, await _term_argument(context, term_code)


async def overdue_congresses(
    context: Context, under: str, term_code: str | None, first: int | None, after: str | None
) -> tuple[Page[Congress], Term]:
    """Congresses below `under` past their deadline and not held, the latest first."""
    committee, term = await _under_and_term(context, under, term_code)
    size = page_size(first, context.settings)
    today = local_today()
    scope = context.viewer.scope
    rows = await visible_progress.overdue_page(
        context.session,
        scope,
        committee.path,
        term.id,
        today=today,
        limit=size + 1,
        after_id=decode_cursor(after),
    )
    page_rows, has_next_page = split_page(rows, size)

    async def total_count() -> int:
        return await visible_progress.overdue_count(
            context.session, scope, committee.path, term.id, today=today
        )

    return Page(page_rows, has_next_page, total_count), term


async def pending_approvals(
    context: Context,
    committee: Committee,
    term_code: str | None,
    first: int | None,
    after: str | None,
) -> tuple[Page[Congress], Term]:
    """Congresses below `committee` whose reports wait for a decision, the longest waiting
    first: an approver's inbox."""
    term = await _term_argument(context, term_code)
    size = page_size(first, context.settings)
    scope = context.viewer.scope
    rows = await visible_progress.pending_approval_page(
        context.session,
        scope,
        committee.path,
        term.id,
        limit=size + 1,
        after_id=decode_cursor(after),
    )
    page_rows, has_next_page = split_page(rows, size)

    async def total_count() -> int:
        return await visible_progress.pending_approval_count(
            context.session, scope, committee.path, term.id
        )

    return Page(page_rows, has_next_page, total_count), term


async def recent_progress(
    context: Context, under: str, first: int | None, after: str | None
) -> Page[CongressEvent]:
    """What was recorded below `under` lately, newest first, in every term."""
    committee = await committee_argument(context, under, "under")
    size = page_size(first, context.settings)
    rows = await visible_progress.recent_events_page(
        context.session,
        context.viewer.scope,
        committee.path,
        limit=size + 1,
        after_id=decode_cursor(after),
    )
    page_rows, has_next_page = split_page(rows, size)

    async def total_count() -> int:
        return await visible_progress.recent_events_count(
            context.session, context.viewer.scope, committee.path
        )

    return Page(page_rows, has_next_page, total_count)
