"""Recording a congress's progress: milestones, results and deadlines.

Each change claims the congress's next version, appends a `CongressEvent`, updates the
derived state and appends the audit row, all in the caller's transaction. Who may record is
checked by the caller (graph.resolvers.progress); the rules of the data are checked here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit import Actor, append_audit
from models.base import utc_now
from models.change_feed import ChangeKind, congress_change, publish
from models.congress import Congress, CongressStatus, MilestoneStatus, MilestoneTemplate, Term
from models.failpoints import failpoint
from models.progress import CongressEvent, CongressResult
from models.refusals import Contention, Invalid
from models.reports import locked_report_exists, require_report_unlocked
from models.rollups import add_contributions, rollups_follow
from models.tree import Committee, require_open, subtree_condition
from models.versions import check_expected_version, claim_next_version

# The party's calendar is Vietnam's: "today" and "in the future" are judged there.
LOCAL_TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")
MAX_NOTE_LENGTH = 2000
# Far above any real congress; stops typos like 1000000 from reaching the reports.
MAX_COUNT = 100_000


def local_today() -> date:
    return datetime.now(LOCAL_TIMEZONE).date()


@dataclass(frozen=True, slots=True)
class Results:
    delegates_expected: int
    delegates_present: int
    members_elected: int
    women: int
    under_40: int
    ethnic_minority: int
    secretary_directly_elected: bool
    delegates_to_higher_congress: int


# GraphQL input field names, so a refusal names the field the client sent.
RESULT_FIELDS = {
    "delegates_expected": "delegatesExpected",
    "delegates_present": "delegatesPresent",
    "members_elected": "membersElected",
    "women": "women",
    "under_40": "under40",
    "ethnic_minority": "ethnicMinority",
    "delegates_to_higher_congress": "delegatesToHigherCongress",
}


def no_term_message(code: str | None) -> str:
    return f"No term {code!r}." if code else "There is no current term."


async def term_by_code(session: AsyncSession, code: str | None) -> Term:
    """The named term, or the current one; an unknown code is a refusal naming `term`."""
    statement = (
        select(Term).where(Term.code == code) if code else select(Term).where(Term.is_current)
    )
    term = await session.scalar(statement.order_by(Term.starts_on.desc()).limit(1))
    if term is None:
        raise Invalid(no_term_message(code), field="term")
    return term


async def congress_of(
    session: AsyncSession, committee: Committee, term: Term, *, for_update: bool = False
) -> Congress:
    """The committee's congress in the term, created on first use (units added mid-term);
    `for_update` locks its row for the transaction (PostgreSQL; SQLite has one writer)."""
    found = select(Congress).where(
        Congress.committee_id == committee.id, Congress.term_id == term.id
    )
    congress = await session.scalar(
        (found.with_for_update() if for_update else found).execution_options(populate_existing=True)
    )
    if congress is None:
        congress = Congress(committee_id=committee.id, term_id=term.id)
        this_congress = (Congress.committee_id == committee.id) & (Congress.term_id == term.id)
        try:
            async with rollups_follow(session, this_congress):
                session.add(congress)
                await session.flush()
        except IntegrityError as error:
            # Created by a concurrent first write: run the change again and use that one.
            raise Contention("congress created concurrently") from error
    return congress


def derived_status(
    templates: list[MilestoneTemplate], states: dict[str, MilestoneStatus]
) -> CongressStatus:
    statuses = [states.get(t.code, MilestoneStatus.NOT_STARTED) for t in templates]
    if statuses and all(status is MilestoneStatus.DONE for status in statuses):
        return CongressStatus.COMPLETED
    if any(t.marks_held and states.get(t.code) is MilestoneStatus.DONE for t in templates):
        return CongressStatus.HELD
    if any(status is not MilestoneStatus.NOT_STARTED for status in statuses):
        return CongressStatus.IN_PROGRESS
    return CongressStatus.NOT_STARTED


def check_occurred_on(occurred_on: date | None, term: Term, status: MilestoneStatus) -> None:
    if status is MilestoneStatus.NOT_STARTED:
        if occurred_on is not None:
            raise Invalid("A milestone that has not started has no date.", field="occurredOn")
        return
    if occurred_on is None:
        raise Invalid("Give the date the milestone was reached or started.", field="occurredOn")
    # One day of slack: a record made just after midnight elsewhere is not "in the future".
    if occurred_on > local_today() + timedelta(days=1):
        raise Invalid("The date is in the future.", field="occurredOn")
    if occurred_on < term.starts_on:
        raise Invalid(f"The date is before the term began ({term.starts_on}).", field="occurredOn")


def check_order(
    template: MilestoneTemplate,
    templates: list[MilestoneTemplate],
    states: dict[str, MilestoneStatus],
    status: MilestoneStatus,
) -> None:
    """A milestone needs its prerequisite done; one that others build on cannot be undone."""
    names = {t.code: t.name for t in templates}
    prerequisite = template.prerequisite_code
    needs_prerequisite = status is not MilestoneStatus.NOT_STARTED and prerequisite is not None
    if needs_prerequisite and states.get(prerequisite or "") is not MilestoneStatus.DONE:
        raise Invalid(
            f"'{template.name}' needs '{names.get(prerequisite or '', prerequisite)}' done first.",
            field="milestone",
        )
    if status is not MilestoneStatus.DONE:
        for dependent in templates:
            if (
                dependent.prerequisite_code == template.code
                and states.get(dependent.code, MilestoneStatus.NOT_STARTED)
                is not MilestoneStatus.NOT_STARTED
            ):
                raise Invalid(
                    f"'{dependent.name}' has already started, so '{template.name}' stays done.",
                    field="status",
                )


def check_results(results: Results) -> None:
    counts = {
        name: value
        for name, value in asdict(results).items()
        if isinstance(value, int) and not isinstance(value, bool)
    }
    for name, value in counts.items():
        if not 0 <= value <= MAX_COUNT:
            raise Invalid(f"Must be between 0 and {MAX_COUNT:,}.", field=RESULT_FIELDS[name])
    if results.delegates_present > results.delegates_expected:
        raise Invalid("More delegates present than expected.", field="delegatesPresent")
    for part in ("women", "under_40", "ethnic_minority"):
        if counts[part] > results.members_elected:
            raise Invalid("A part cannot exceed the members elected.", field=RESULT_FIELDS[part])
    if results.members_elected > results.delegates_present:
        raise Invalid("More members elected than delegates present.", field="membersElected")


async def record_results(
    session: AsyncSession,
    actor: Actor,
    *,
    committee: Committee,
    term: Term,
    results: Results,
    expected_version: int | None,
) -> Congress:
    check_results(results)
    require_open(committee, "committeeId")
    congress = await congress_of(session, committee, term, for_update=True)
    await require_report_unlocked(session, congress)
    if congress.held_on is None:
        raise Invalid(
            "Results can be recorded once the congress has been held.", field="committeeId"
        )
    current = await session.get(CongressResult, congress.id, populate_existing=True)
    if current is not None and all(getattr(current, k) == v for k, v in asdict(results).items()):
        check_expected_version(congress, expected_version)
        return congress
    version = await claim_next_version(session, congress, expected_version)
    payload: dict[str, Any] = {
        RESULT_FIELDS.get(k, "secretaryDirectlyElected"): v for k, v in asdict(results).items()
    }
    await append_event(session, actor, congress, version, "results", payload)
    async with rollups_follow(session, congress.id):
        if current is None:
            current = CongressResult(congress_id=congress.id)
            session.add(current)
        for key, value in asdict(results).items():
            setattr(current, key, value)
        current.version, current.recorded_by_subject, current.recorded_at = (
            version,
            actor.subject,
            utc_now(),
        )
    await finish_change(session, actor, committee, congress, ChangeKind.RESULTS, payload)
    return congress


def check_deadline(deadline: date, term: Term) -> None:
    if not term.starts_on <= deadline <= term.ends_on:
        raise Invalid(
            f"The deadline must fall within the term ({term.starts_on} to {term.ends_on}).",
            field="deadline",
        )


async def set_deadline(
    session: AsyncSession,
    actor: Actor,
    *,
    committee: Committee,
    term: Term,
    deadline: date,
    expected_version: int | None,
) -> Congress:
    """The deadline of one committee's congress."""
    check_deadline(deadline, term)
    require_open(committee, "committeeId")
    congress = await congress_of(session, committee, term, for_update=True)
    await require_report_unlocked(session, congress)
    if congress.deadline == deadline:
        check_expected_version(congress, expected_version)
        return congress
    version = await claim_next_version(session, congress, expected_version)
    payload = {
        "deadline": deadline.isoformat(),
        "previous": congress.deadline.isoformat() if congress.deadline else None,
    }
    await append_event(session, actor, congress, version, "deadline", payload)
    async with rollups_follow(session, congress.id):
        congress.deadline = deadline
    await finish_change(session, actor, committee, congress, ChangeKind.DEADLINE, payload)
    return congress


async def set_level_deadline(
    session: AsyncSession, actor: Actor, *, under: Committee, term: Term, depth: int, deadline: date
) -> int:
    """The deadline of every congress at `depth` below `under`: a fixed number of statements
    (lock, update, events, rollups), whatever the number of congresses (a national level of
    cells is hundreds of thousands)."""
    check_deadline(deadline, term)
    if depth <= under.depth:
        raise Invalid("The level must be below the committee.", field="depth")
    at_level = select(Committee.id).where(
        subtree_condition(Committee.path, under.path),
        Committee.depth == depth,
        Committee.closed_at.is_(None),
    )
    at_level_in_term = (Congress.term_id == term.id) & Congress.committee_id.in_(at_level)
    targets = (
        at_level_in_term,
        (Congress.deadline != deadline) | Congress.deadline.is_(None),
        # A congress whose report is submitted or approved keeps the deadline it was
        # counted against (models/reports.py).
        ~locked_report_exists(),
    )
    # Committees in events are references the reader's scope decides on (see history).
    payload = {"deadline": deadline.isoformat(), "level": depth, "under": {"committeeId": under.id}}
    # The update says which congresses it changed and their new versions, and exactly those
    # get their events: a second statement re-reading `targets` could see other rows.
    # The rollups lose what the targets count for now and gain what they count for after:
    # lock the rows first so that "now" is the state this update changes (PostgreSQL;
    # SQLite has one writer at a time anyway). Only open-deadline counters can move, and
    # the database computes them: a national level is too many rows to pass through Python.
    locked = select(Congress.id).where(*targets).with_for_update().subquery()
    await session.execute(select(func.count()).select_from(locked))
    await add_contributions(session, at_level_in_term, sign=-1, deadlines_only=True)
    changed_rows = (
        await session.execute(
            update(Congress)
            .where(*targets)
            .values(deadline=deadline, version=Congress.version + 1)
            .returning(Congress.id, Congress.version, Congress.committee_id, Congress.status)
            .execution_options(synchronize_session=False)
        )
    ).all()
    await add_contributions(session, at_level_in_term, deadlines_only=True)
    now = utc_now()
    if changed_rows:
        await session.execute(
            insert(CongressEvent),
            [
                {
                    "congress_id": congress_id,
                    "version": version,
                    "kind": "deadline",
                    "payload": payload,
                    "recorded_by_user_id": actor.user_id,
                    "recorded_by_subject": actor.subject,
                    "recorded_at": now,
                    "request_id": actor.request_id,
                }
                for congress_id, version, _committee_id, _status in changed_rows
            ],
        )
        # The paths of the committees at the level, in one statement: each change's feed row.
        at_level_paths = select(Committee.id, Committee.path).where(Committee.id.in_(at_level))
        paths = {row.id: row.path for row in await session.execute(at_level_paths)}
        for congress_id, version, committee_id, status in changed_rows:
            publish(
                session,
                ChangeKind.DEADLINE,
                committee_id=committee_id,
                committee_path=paths[committee_id],
                term_id=term.id,
                payload=congress_change(congress_id, version, status, deadline=payload["deadline"]),
            )
    changed = len(changed_rows)
    append_audit(
        session,
        actor,
        action="congress.level_deadline",
        committee_id=under.id,
        after={**payload, "congresses": changed},
    )
    return changed


async def append_event(
    session: AsyncSession,
    actor: Actor,
    congress: Congress,
    version: int,
    kind: str,
    payload: dict[str, Any],
) -> None:
    session.add(
        CongressEvent(
            congress_id=congress.id,
            version=version,
            kind=kind,
            payload=payload,
            recorded_by_user_id=actor.user_id,
            recorded_by_subject=actor.subject,
            request_id=actor.request_id,
        )
    )
    await session.flush()
    # Tests arm this to prove that an event never outlives a failure before its audit row.
    failpoint("congress.event_appended")


# The audit action of each kind of congress change.
AUDIT_ACTIONS = {ChangeKind.RESULTS: "congress.results", ChangeKind.DEADLINE: "congress.deadline"}


async def finish_change(
    session: AsyncSession,
    actor: Actor,
    committee: Committee,
    congress: Congress,
    kind: ChangeKind,
    payload: dict[str, Any],
) -> None:
    """The audit row and the feed row of a change to one congress."""
    append_audit(
        session,
        actor,
        action=AUDIT_ACTIONS[kind],
        committee_id=congress.committee_id,
        target_type="Congress",
        target_id=congress.id,
        after={**payload, "version": congress.version},
    )
    details = {"deadline": payload["deadline"]} if kind is ChangeKind.DEADLINE else {}
    publish(
        session,
        kind,
        committee_id=committee.id,
        committee_path=committee.path,
        term_id=congress.term_id,
        payload=congress_change(congress.id, congress.version, congress.status, **details),
    )
    await session.flush()
