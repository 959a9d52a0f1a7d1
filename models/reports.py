"""A congress's report to the level above (báo cáo lên cấp trên): submitted by the
committee, approved or returned by an approver above it, locked while submitted or
approved.

    DRAFT ──submit──▶ SUBMITTED ──approve──▶ APPROVED
                        │  ▲                    │
                 return │  │ submit      reopen │
                        ▼  │                    ▼
                      RETURNED               REOPENED ──submit──▶ SUBMITTED

A congress has no report row until its first transition: it is a DRAFT at version 1.
The row's `version` is the report's own (what `expectedVersion` names), apart from the
congress's: recording progress does not make a report stale, and deciding on a report
does not make an official's form stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from models.audit import Actor, append_audit
from models.base import utc_now
from models.change_feed import ChangeKind, congress_change, publish
from models.congress import Congress, MilestoneStatus, MilestoneTemplate, Term
from models.progress import CongressMilestone, CongressResult
from models.refusals import Conflicting, Invalid, Refusal
from models.report_rows import (
    FIRST_VERSION,
    LOCKING_STATES,
    CongressReport,
    ReportState,
)
from models.rollups import rollups_follow
from models.tree import Committee
from models.versions import check_expected_version, claim_next_version


class ReportAction(StrEnum):
    SUBMIT = "submit"
    APPROVE = "approve"
    RETURN = "return"
    REOPEN = "reopen"


@dataclass(frozen=True, slots=True)
class Transition:
    """Where an action may start, where it leaves the report, whether it needs a reason."""

    sources: frozenset[ReportState]
    target: ReportState
    needs_reason: bool
    feed_kind: ChangeKind
    # "The report ... cannot be <past> now."
    past: str


TRANSITIONS: dict[ReportAction, Transition] = {
    ReportAction.SUBMIT: Transition(
        frozenset({ReportState.DRAFT, ReportState.RETURNED, ReportState.REOPENED}),
        ReportState.SUBMITTED,
        needs_reason=False,
        feed_kind=ChangeKind.REPORT_SUBMITTED,
        past="submitted",
    ),
    ReportAction.APPROVE: Transition(
        frozenset({ReportState.SUBMITTED}),
        ReportState.APPROVED,
        needs_reason=False,
        feed_kind=ChangeKind.REPORT_APPROVED,
        past="approved",
    ),
    ReportAction.RETURN: Transition(
        frozenset({ReportState.SUBMITTED}),
        ReportState.RETURNED,
        needs_reason=True,
        feed_kind=ChangeKind.REPORT_RETURNED,
        past="returned",
    ),
    ReportAction.REOPEN: Transition(
        frozenset({ReportState.APPROVED}),
        ReportState.REOPENED,
        needs_reason=True,
        feed_kind=ChangeKind.REPORT_REOPENED,
        past="reopened",
    ),
}
MAX_REASON_LENGTH = 2000


class MissingKind(StrEnum):
    MILESTONE = "milestone"
    RESULTS = "results"
    # The term asks for the children's reports approved first (requireChildrenApproved).
    CHILDREN = "children"


@dataclass(frozen=True, slots=True)
class MissingItem:
    """What a report still lacks: a required milestone not done, the results, or (when
    the term asks) the approved reports of `count` committees below."""

    kind: MissingKind
    code: str
    label: str
    count: int | None = None


class ReportIncomplete(Refusal):
    def __init__(self, missing: Sequence[MissingItem]) -> None:
        super().__init__(
            "The report cannot be submitted yet: " + "; ".join(item.label for item in missing) + "."
        )
        self.missing = tuple(missing)


class ReportLocked(Refusal):
    """The congress's report is submitted or approved: its figures stay as counted."""

    def __init__(self, state: ReportState) -> None:
        super().__init__(
            f"The report of this congress is {state.value}: its milestones, results and "
            "deadline cannot change until the level above returns or reopens it."
        )
        self.state = state


async def locked_congress(session: AsyncSession, congress_id: int) -> Congress:
    """The congress, its row locked for this transaction (PostgreSQL; SQLite has one
    writer): a report transition and a progress write on one congress run one after the
    other, so no figure changes after the report that counted it is submitted."""
    congress = await session.scalar(
        select(Congress)
        .where(Congress.id == congress_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert congress is not None, "read by its id within the transaction"
    return congress


async def report_states(
    session: AsyncSession, congress_ids: Iterable[int]
) -> dict[int, ReportState]:
    """The report state of each congress that has left DRAFT (one statement)."""
    wanted = list(congress_ids)
    if not wanted:
        return {}
    rows = await session.execute(
        select(CongressReport.congress_id, CongressReport.state).where(
            CongressReport.congress_id.in_(wanted)
        )
    )
    return {congress_id: state for congress_id, state in rows}


def require_unlocked(state: ReportState | None) -> None:
    """Refuse a change to a congress's milestones, results or deadline while its report
    is submitted or approved."""
    if state in LOCKING_STATES:
        raise ReportLocked(state)


async def require_report_unlocked(session: AsyncSession, congress: Congress) -> None:
    """`require_unlocked` for one congress, read after its row is locked (see
    `locked_congress`)."""
    require_unlocked((await report_states(session, [congress.id])).get(congress.id))


def locked_report_exists() -> ColumnElement[bool]:
    """For a statement over `congress`: its report is submitted or approved."""
    return (
        select(CongressReport.congress_id)
        .where(
            CongressReport.congress_id == Congress.id,
            CongressReport.state.in_(LOCKING_STATES),
        )
        .exists()
    )


async def missing_for_report(session: AsyncSession, congress: Congress) -> list[MissingItem]:
    """What the term's template asks of a report that this congress has not done."""
    templates = (
        await session.scalars(
            select(MilestoneTemplate)
            .where(MilestoneTemplate.term_id == congress.term_id, MilestoneTemplate.required)
            .order_by(MilestoneTemplate.position)
        )
    ).all()
    done = set(
        (
            await session.scalars(
                select(CongressMilestone.milestone_code).where(
                    CongressMilestone.congress_id == congress.id,
                    CongressMilestone.status == MilestoneStatus.DONE,
                )
            )
        ).all()
    )
    missing = [
        MissingItem(MissingKind.MILESTONE, template.code, template.name)
        for template in templates
        if template.code not in done
    ]
    if await session.get(CongressResult, congress.id) is None:
        missing.append(MissingItem(MissingKind.RESULTS, "results", "The congress's results"))
    if await session.scalar(
        select(Term.require_children_approved).where(Term.id == congress.term_id)
    ):
        waiting = await children_not_approved(session, congress)
        if waiting:
            missing.append(
                MissingItem(
                    MissingKind.CHILDREN,
                    "children",
                    f"The approved reports of {waiting} committee(s) below",
                    count=waiting,
                )
            )
    return missing


async def children_not_approved(session: AsyncSession, congress: Congress) -> int:
    """How many open committees directly below this congress's committee have no approved
    report in its term."""
    child_congress = aliased(Congress)
    count = await session.scalar(
        select(func.count())
        .select_from(Committee)
        .outerjoin(
            child_congress,
            (child_congress.committee_id == Committee.id)
            & (child_congress.term_id == congress.term_id),
        )
        .outerjoin(CongressReport, CongressReport.congress_id == child_congress.id)
        .where(
            Committee.parent_id == congress.committee_id,
            Committee.closed_at.is_(None),
            CongressReport.state.is_distinct_from(ReportState.APPROVED),
        )
    )
    return int(count or 0)


async def change_report(
    session: AsyncSession,
    actor: Actor,
    *,
    committee: Committee,
    congress: Congress,
    action: ReportAction,
    expected_version: int | None,
    reason: str | None,
) -> CongressReport:
    """One transition of the congress's report (the policy asked before): the state
    checked, the reason for a return or a reopening, completeness for a submission, the
    report's version claimed, then its audit row and its feed row."""
    transition = TRANSITIONS[action]
    reason = (reason or "").strip() or None
    if transition.needs_reason and reason is None:
        raise Invalid("Say why: a reason is required.", field="reason")
    if reason is not None and len(reason) > MAX_REASON_LENGTH:
        raise Invalid(f"The reason is longer than {MAX_REASON_LENGTH} characters.", field="reason")
    congress = await locked_congress(session, congress.id)
    report = await _report_row(session, congress.id)
    if report.state not in transition.sources:
        check_expected_version(report, expected_version)
        raise Conflicting(
            f"The report is {report.state.value}; it cannot be {transition.past} now.",
            field="committeeId",
        )
    if action is ReportAction.SUBMIT:
        missing = await missing_for_report(session, congress)
        if missing:
            raise ReportIncomplete(missing)
    version = await claim_next_version(session, report, expected_version)
    now = utc_now()
    # The ancestors' counts of reports by state move with it (models/rollups.py).
    async with rollups_follow(session, congress.id):
        report.state = transition.target
        if action is ReportAction.SUBMIT:
            report.submitted_at, report.submitted_by_user_id = now, actor.user_id
            report.decided_at, report.decided_by_user_id, report.reason = None, None, None
        else:
            report.decided_at, report.decided_by_user_id, report.reason = (
                now,
                actor.user_id,
                reason,
            )
    after: dict[str, Any] = {"state": report.state.value, "version": version}
    if reason is not None:
        after["reason"] = reason
    append_audit(
        session,
        actor,
        action=f"report.{action.value}",
        committee_id=committee.id,
        target_type="Congress",
        target_id=congress.id,
        after=after,
    )
    publish(
        session,
        transition.feed_kind,
        committee_id=committee.id,
        committee_path=committee.path,
        term_id=congress.term_id,
        payload=congress_change(
            congress.id,
            congress.version,
            congress.status,
            report={"state": report.state.value, "version": version},
        ),
    )
    await session.flush()
    return report


async def _report_row(session: AsyncSession, congress_id: int) -> CongressReport:
    """The congress's report row, made (as a DRAFT at version 1) on its first transition."""
    connection = await session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    await session.execute(
        dialect.insert(CongressReport)
        .values(congress_id=congress_id, state=ReportState.DRAFT, version=FIRST_VERSION)
        .on_conflict_do_nothing(index_elements=[CongressReport.congress_id])
    )
    report = await session.scalar(
        select(CongressReport)
        .where(CongressReport.congress_id == congress_id)
        .execution_options(populate_existing=True)
    )
    assert report is not None, "inserted above unless it was there"
    return report
