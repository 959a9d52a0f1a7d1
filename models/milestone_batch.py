"""Recording milestones a batch at a time: the writes of one transaction, in a fixed
number of statements whatever their number (a single write is a batch of one).

Each write is checked on its own, in order, against the state the writes before it in the
batch left (two writes to one congress claim two versions); a refused write changes
nothing and the others go on. The writes that pass claim their congresses' versions in one
statement, append their events, change the milestones and the congresses' derived state
inside one `rollups_follow` (so the rollups move once for the whole batch), and append
their audit rows and feed rows. Who may record where is the policy's rule
(`MilestoneWrite.may_record`), applied to the committee the batch reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from models.audit import Actor, append_audits, audit_values
from models.base import pairs_condition, utc_now
from models.change_feed import ChangeKind, congress_change, publish
from models.congress import Congress, MilestoneStatus, MilestoneTemplate, Term
from models.congress_progress import (
    MAX_NOTE_LENGTH,
    check_occurred_on,
    check_order,
    congress_of,
    derived_status,
    no_term_message,
)
from models.failpoints import failpoint
from models.progress import CongressEvent, CongressMilestone, CongressResult
from models.refusals import Contention, Invalid, NotVisible, Refusal
from models.report_rows import ReportState
from models.reports import report_states, require_unlocked
from models.rollups import rollups_follow
from models.tree import Committee, require_open
from models.versions import check_expected_version

# The action of a recorded milestone's audit row.
MILESTONE_AUDIT_ACTION = "congress.milestone"


@dataclass(frozen=True, slots=True)
class MilestoneWrite:
    """One `recordMilestone`: the committee's congress in the term (None: the current one)."""

    actor: Actor
    committee_id: int
    # Raises the refusal if the writer may not record at this committee (not in their scope,
    # or without the role): the caller's rule, checked on the committee the batch reads.
    may_record: Callable[[Committee], None]
    term_code: str | None
    milestone: str
    status: MilestoneStatus
    occurred_on: date | None
    note: str | None
    expected_version: int | None


@dataclass(frozen=True, slots=True)
class Recorded:
    """A write that passed: its congress (and term) and the version it made (the current
    version when it repeated what was already recorded, which changes nothing)."""

    congress: Congress
    term: Term
    version: int


@dataclass(slots=True)
class _Step:
    status: MilestoneStatus
    occurred_on: date | None
    note: str | None
    version: int
    subject: str | None


@dataclass(slots=True)
class _Planned:
    """A congress as the batch's writes leave it, before anything is written."""

    congress: Congress
    templates: list[MilestoneTemplate]
    rows: dict[str, CongressMilestone]  # as stored
    read_version: int
    version: int
    held_on: date | None
    steps: dict[str, _Step] = field(init=False)
    changed: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.steps = {
            code: _Step(row.status, row.occurred_on, row.note, row.version, row.recorded_by_subject)
            for code, row in self.rows.items()
        }

    def statuses(self) -> dict[str, MilestoneStatus]:
        return {code: step.status for code, step in self.steps.items()}


@dataclass(frozen=True, slots=True)
class _Change:
    write: MilestoneWrite
    congress: Congress
    term: Term
    version: int
    payload: dict[str, Any]


async def record_milestones(
    session: AsyncSession, writes: Sequence[MilestoneWrite]
) -> list[Recorded | Refusal]:
    """Record the writes in order; one outcome per write. Raises `Contention` when another
    transaction changed one of the congresses meanwhile: the caller starts over."""
    batch = await _Batch.read(session, writes)
    outcomes: list[Recorded | Refusal] = []
    changes: list[_Change] = []
    for write in writes:
        try:
            outcome = await batch.plan(write)
        except Refusal as refusal:
            outcomes.append(refusal)
            continue
        if isinstance(outcome, _Change):
            changes.append(outcome)
            outcome = Recorded(outcome.congress, outcome.term, outcome.version)
        outcomes.append(outcome)
    changed = [plan for plan in batch.planned.values() if plan.changed]
    if not changed:
        return outcomes
    await _claim_versions(session, changed)
    await session.execute(
        insert(CongressEvent),
        [
            {
                "congress_id": change.congress.id,
                "version": change.version,
                "kind": "milestone",
                "payload": change.payload,
                "recorded_by_user_id": change.write.actor.user_id,
                "recorded_by_subject": change.write.actor.subject,
                "request_id": change.write.actor.request_id,
            }
            for change in changes
        ],
    )
    # Tests arm this to prove that an event never outlives a failure before its audit row.
    failpoint("congress.event_appended")
    async with rollups_follow(session, [plan.congress.id for plan in changed]):
        now = utc_now()
        for plan in changed:
            _write_plan(session, plan, now)
    await append_audits(
        session,
        [
            audit_values(
                change.write.actor,
                action=MILESTONE_AUDIT_ACTION,
                committee_id=change.congress.committee_id,
                target_type="Congress",
                target_id=change.congress.id,
                after={**change.payload, "version": change.version},
            )
            for change in changes
        ],
    )
    for change in changes:
        committee = batch.committees[change.write.committee_id]
        publish(
            session,
            ChangeKind.MILESTONE,
            committee_id=committee.id,
            committee_path=committee.path,
            term_id=change.term.id,
            # The congress's status as the batch leaves it (two writes to one congress in a
            # batch both carry the second's status; each carries its own version).
            payload=congress_change(
                change.congress.id,
                change.version,
                change.congress.status,
                milestone=change.payload["milestone"],
                milestoneStatus=change.payload["status"],
            ),
        )
    return outcomes


@dataclass(slots=True)
class _Batch:
    """What the batch's writes are checked against, read in one statement per table, and
    the congresses as the writes planned so far leave them."""

    session: AsyncSession
    terms: dict[str | None, Term]
    committees: dict[int, Committee]
    congresses: dict[tuple[int, int], Congress]
    templates: dict[int, list[MilestoneTemplate]]
    stored: dict[int, dict[str, CongressMilestone]]
    # The report states of the batch's congresses that have left DRAFT.
    reports: dict[int, ReportState]
    planned: dict[int, _Planned] = field(default_factory=dict)

    @classmethod
    async def read(cls, session: AsyncSession, writes: Sequence[MilestoneWrite]) -> _Batch:
        terms = await _terms(session, {write.term_code for write in writes})
        committees = await _committees(session, {write.committee_id for write in writes})
        wanted = {
            (write.committee_id, terms[write.term_code].id)
            for write in writes
            if write.term_code in terms and write.committee_id in committees
        }
        congresses = await _congresses(session, wanted)
        for committee_id, term_id in wanted - congresses.keys():
            # Units added mid-term get their congress on first use (rare: one at a time).
            term = next(t for t in terms.values() if t.id == term_id)
            congresses[committee_id, term_id] = await congress_of(
                session, committees[committee_id], term
            )
        return cls(
            session,
            terms,
            committees,
            congresses,
            await _templates(session, {term_id for _, term_id in wanted}),
            await _stored(session, [congress.id for congress in congresses.values()]),
            await report_states(session, [congress.id for congress in congresses.values()]),
        )

    async def plan(self, write: MilestoneWrite) -> Recorded | _Change:
        """Check the write against the state so far and plan its change; a repeat of what
        is recorded changes nothing. Raises the refusal of a write that cannot be made."""
        committee = self.committees.get(write.committee_id)
        if committee is None:
            raise NotVisible("No committee found.", field="committeeId")
        write.may_record(committee)
        term = self.terms.get(write.term_code)
        if term is None:
            raise Invalid(no_term_message(write.term_code), field="term")
        require_open(committee, "committeeId")
        congress = self.congresses[committee.id, term.id]
        require_unlocked(self.reports.get(congress.id))
        plan = self.planned.get(congress.id)
        if plan is None:
            plan = self.planned[congress.id] = _Planned(
                congress,
                self.templates.get(term.id, []),
                self.stored.get(congress.id, {}),
                congress.version,
                congress.version,
                congress.held_on,
            )
        template = next((t for t in plan.templates if t.code == write.milestone), None)
        if template is None:
            known = ", ".join(t.code for t in plan.templates)
            raise Invalid(
                f"Unknown milestone {write.milestone!r}; this term has: {known}.",
                field="milestone",
            )
        check_occurred_on(write.occurred_on, term, write.status)
        note = (write.note or "").strip() or None
        if note is not None and len(note) > MAX_NOTE_LENGTH:
            raise Invalid(f"The note is longer than {MAX_NOTE_LENGTH} characters.", field="note")
        check_order(template, plan.templates, plan.statuses(), write.status)
        undoing_held = template.marks_held and write.status is not MilestoneStatus.DONE
        if undoing_held and await self.session.get(CongressResult, congress.id) is not None:
            raise Invalid(
                "The congress has recorded results, so it stays held; correct the results first.",
                field="status",
            )
        check_expected_version(congress, write.expected_version, plan.version)
        existing = plan.steps.get(write.milestone)
        if existing is not None and (existing.status, existing.occurred_on, existing.note) == (
            write.status,
            write.occurred_on,
            note,
        ):
            return Recorded(congress, term, plan.version)
        plan.version += 1
        plan.steps[write.milestone] = _Step(
            write.status, write.occurred_on, note, plan.version, write.actor.subject
        )
        plan.changed.add(write.milestone)
        if template.marks_held:
            plan.held_on = write.occurred_on if write.status is MilestoneStatus.DONE else None
        payload = {
            "milestone": write.milestone,
            "status": write.status.value,
            "occurredOn": write.occurred_on.isoformat() if write.occurred_on else None,
            "note": note,
        }
        return _Change(write, congress, term, plan.version, payload)


def _write_plan(session: AsyncSession, plan: _Planned, now: datetime) -> None:
    """Write the milestones the batch changed and the congress's derived state."""
    for code in plan.changed:
        step = plan.steps[code]
        row = plan.rows.get(code)
        if row is None:
            row = CongressMilestone(congress_id=plan.congress.id, milestone_code=code)
            session.add(row)
        row.status, row.occurred_on, row.note = step.status, step.occurred_on, step.note
        row.version, row.recorded_by_subject, row.recorded_at = step.version, step.subject, now
    plan.congress.status = derived_status(plan.templates, plan.statuses())
    plan.congress.held_on = plan.held_on


async def _terms(session: AsyncSession, codes: Iterable[str | None]) -> dict[str | None, Term]:
    """The terms named, and the current one under None if asked for."""
    named = [code for code in codes if code is not None]
    rows = await session.scalars(
        select(Term)
        .where(or_(Term.is_current, Term.code.in_(named)))
        .order_by(Term.starts_on.desc())
    )
    found: dict[str | None, Term] = {}
    for term in rows:
        if term.is_current and None not in found:
            found[None] = term
        if term.code in named:
            found.setdefault(term.code, term)
    return found


async def _committees(session: AsyncSession, ids: Iterable[int]) -> dict[int, Committee]:
    rows = await session.scalars(
        select(Committee)
        .where(Committee.id.in_(list(ids)))
        .execution_options(populate_existing=True)
    )
    return {committee.id: committee for committee in rows}


async def _congresses(
    session: AsyncSession, pairs: set[tuple[int, int]]
) -> dict[tuple[int, int], Congress]:
    if not pairs:
        return {}
    # Locked for the batch, in one order (PostgreSQL): a report submitted meanwhile waits
    # for the batch, or the batch reads it submitted (models/reports.py).
    rows = await session.scalars(
        select(Congress)
        .where(pairs_condition(Congress.committee_id, Congress.term_id, pairs))
        .order_by(Congress.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    found = {(congress.committee_id, congress.term_id): congress for congress in rows}
    return {pair: congress for pair, congress in found.items() if pair in pairs}


async def _templates(
    session: AsyncSession, term_ids: Iterable[int]
) -> dict[int, list[MilestoneTemplate]]:
    rows = await session.scalars(
        select(MilestoneTemplate)
        .where(MilestoneTemplate.term_id.in_(list(term_ids)))
        .order_by(MilestoneTemplate.term_id, MilestoneTemplate.position)
    )
    found: dict[int, list[MilestoneTemplate]] = {}
    for template in rows:
        found.setdefault(template.term_id, []).append(template)
    return found


async def _stored(
    session: AsyncSession, congress_ids: Sequence[int]
) -> dict[int, dict[str, CongressMilestone]]:
    rows = await session.scalars(
        select(CongressMilestone)
        .where(CongressMilestone.congress_id.in_(list(congress_ids)))
        .execution_options(populate_existing=True)
    )
    found: dict[int, dict[str, CongressMilestone]] = {}
    for row in rows:
        found.setdefault(row.congress_id, {})[row.milestone_code] = row
    return found


async def _claim_versions(session: AsyncSession, plans: Sequence[_Planned]) -> None:
    """Each changed congress from the version read to the one its last write made, in one
    statement; a congress whose version moved meanwhile means another writer got in."""
    read = {plan.congress.id: plan.read_version for plan in plans}
    claimed = await session.scalars(
        update(Congress)
        .where(Congress.id.in_(list(read)), Congress.version == case(read, value=Congress.id))
        .values(version=case({plan.congress.id: plan.version for plan in plans}, value=Congress.id))
        .returning(Congress.id)
        .execution_options(synchronize_session=False)
    )
    if set(claimed) != {plan.congress.id for plan in plans}:
        raise Contention("a congress changed under this batch")
    for plan in plans:
        set_committed_value(plan.congress, "version", plan.version)
