"""Reads and writes of congress progress; who may record is the policy's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import date

from domain.exactly_once import Answer, Keyed
from domain.milestone_writer import OPERATION, may_record
from domain.unit_of_work import UnitOfWork
from graph.context import Context
from graph.global_ids import row_id_of
from graph.progress_loaders import HistoryPageKey
from graph.resolvers.committees import COMMITTEE_TYPE
from graph.resolvers.mutations import unit_of_work, visible_committee
from graph.resolvers.pagination import Page, decode_cursor, page_size, split_page
from models import (
    Committee,
    Congress,
    CongressEvent,
    CongressMilestone,
    MilestoneStatus,
    MilestoneTemplate,
    Term,
)
from models import congress_progress as progress
from models.congress_progress import Results, local_today
from models.milestone_batch import MilestoneWrite
from models.refusals import NO_COMMITTEE, NotVisible, Refusal
from permissions import policy


async def milestones(
    context: Context, congress: Congress
) -> list[tuple[MilestoneTemplate, CongressMilestone | None]]:
    """Every step of the term's template, with its recorded state if any, in order."""
    templates = (await context.terms.snapshot(context.session)).templates_of(congress.term_id)
    states = {
        s.milestone_code: s for s in await context.progress.milestone_states.load(congress.id)
    }
    return [(template, states.get(template.code)) for template in templates]


def days_late(congress: Congress) -> int | None:
    """How late the congress was held, or is so far; None without a deadline."""
    if congress.deadline is None:
        return None
    until = congress.held_on or local_today()
    return max(0, (until - congress.deadline).days)


def is_overdue(congress: Congress) -> bool:
    return (
        congress.held_on is None
        and congress.deadline is not None
        and local_today() > congress.deadline
    )


async def history(
    context: Context, congress: Congress, first: int | None, after: str | None
) -> Page[CongressEvent]:
    size = page_size(first, context.settings)
    key = HistoryPageKey(congress.id, size + 1, decode_cursor(after))
    rows, has_next_page = split_page(await context.progress.history_page.load(key), size)

    async def total_count() -> int:
        return await context.progress.history_count.load(congress.id)

    return Page(rows, has_next_page, total_count)


async def record(
    context: Context,
    operation: str,
    committee_id: str,
    term: str | None,
    request: dict[str, object],
    idempotency_key: str | None,
    make_change: Callable[[UnitOfWork, Committee, Term], Awaitable[Congress]],
) -> Answer | Refusal:
    """The common path of every progress write: scope, role, then the change, exactly once."""
    unit = unit_of_work(context)

    async def act() -> Congress:
        committee = await visible_committee(context, committee_id, "committeeId")
        policy.may_record_progress(unit.viewer, committee)
        term_row = await progress.term_by_code(unit.session, term)
        return await make_change(unit, committee, term_row)

    return await unit.run_exactly_once(operation, request, idempotency_key, act)


async def record_milestone(
    context: Context,
    *,
    committee_id: str,
    term: str | None,
    milestone: str,
    status: MilestoneStatus,
    occurred_on: date | None,
    note: str | None,
    expected_version: int | None,
    idempotency_key: str | None,
) -> Answer | Refusal:
    """The unit of work's batched road (domain/milestone_writer.py): the write joins the
    others waiting on this worker, in one transaction."""
    request: dict[str, object] = {
        "committeeId": committee_id, "term": term, "milestone": milestone, "status": status.value,
        "occurredOn": occurred_on, "note": note, "expectedVersion": expected_version,
    }  # fmt: skip
    unit = unit_of_work(context)
    try:
        keyed = Keyed.of(unit.viewer.user_id, OPERATION, request, idempotency_key)
    except Refusal as refusal:
        return refusal
    row_id = row_id_of(committee_id, COMMITTEE_TYPE)
    if row_id is None:
        return NotVisible(NO_COMMITTEE, field="committeeId")
    write = MilestoneWrite(
        unit.actor, row_id, may_record(unit), term, milestone, status, occurred_on, note,
        expected_version,
    )  # fmt: skip
    outcome = await context.milestones.record_for(unit, write, keyed)
    # The answer's fields load concurrently; they must find the session connected.
    await context.session.connection()
    if isinstance(outcome, Refusal):
        return outcome
    if outcome.committed is not None:
        # The congress as committed: the answer needs no second read.
        context.progress.congress_by_id.prime(outcome.answer.row_id, outcome.committed)
    return outcome.answer


async def record_results(
    context: Context,
    *,
    committee_id: str,
    term: str | None,
    results: Results,
    expected_version: int | None,
    idempotency_key: str | None,
) -> Answer | Refusal:
    request: dict[str, object] = {
        "committeeId": committee_id, "term": term, "expectedVersion": expected_version, **asdict(results),
    }  # fmt: skip

    async def make_change(unit: UnitOfWork, committee: Committee, term_row: Term) -> Congress:
        return await progress.record_results(
            unit.session,
            unit.actor,
            committee=committee,
            term=term_row,
            results=results,
            expected_version=expected_version,
        )

    return await record(
        context, "recordResults", committee_id, term, request, idempotency_key, make_change
    )


async def set_deadline(
    context: Context,
    *,
    committee_id: str,
    term: str | None,
    deadline: date,
    depth: int | None,
    expected_version: int | None,
) -> tuple[Answer | None, int] | Refusal:
    """One committee's deadline (by an admin above it), or a whole level's below an admin.
    Returns what was recorded for a single congress, and how many congresses changed."""
    unit = unit_of_work(context)

    async def change() -> tuple[Answer | None, int]:
        committee = await visible_committee(context, committee_id, "committeeId")
        term_row = await progress.term_by_code(unit.session, term)
        if depth is None:
            policy.may_set_deadline(unit.viewer, committee)
            congress = await progress.set_deadline(
                unit.session,
                unit.actor,
                committee=committee,
                term=term_row,
                deadline=deadline,
                expected_version=expected_version,
            )
            return Answer(congress.id, congress.version), 1
        policy.may_set_level_deadlines(unit.viewer, committee)
        changed = await progress.set_level_deadline(
            unit.session,
            unit.actor,
            under=committee,
            term=term_row,
            depth=depth,
            deadline=deadline,
        )
        return None, changed

    return await unit.run(change)
