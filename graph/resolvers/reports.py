"""Moving a congress's report along its lifecycle (models/reports.py): scope, the
policy's rule for the action, then the transition, exactly once."""

from __future__ import annotations

from domain.exactly_once import Answer
from graph.context import Context
from graph.resolvers.mutations import unit_of_work, visible_committee
from models import congress_progress as progress
from models.refusals import Refusal
from models.report_rows import CongressReport
from models.reports import ReportAction, change_report
from permissions import policy

# The operation each action is remembered under, for exactly-once replay.
OPERATIONS = {
    ReportAction.SUBMIT: "submitReport",
    ReportAction.APPROVE: "approveReport",
    ReportAction.RETURN: "returnReport",
    ReportAction.REOPEN: "reopenReport",
}


async def move_report(
    context: Context,
    action: ReportAction,
    *,
    committee_id: str,
    term: str | None,
    expected_version: int | None,
    reason: str | None,
    idempotency_key: str | None,
) -> Answer | Refusal:
    request: dict[str, object] = {
        "committeeId": committee_id,
        "term": term,
        "expectedVersion": expected_version,
        "reason": reason,
    }
    unit = unit_of_work(context)

    async def act() -> CongressReport:
        committee = await visible_committee(context, committee_id, "committeeId")
        if action is ReportAction.SUBMIT:
            policy.may_submit_report(unit.viewer, committee)
        else:
            policy.may_decide_report(unit.viewer, committee)
        term_row = await progress.term_by_code(unit.session, term)
        congress = await progress.congress_of(unit.session, committee, term_row)
        return await change_report(
            unit.session,
            unit.actor,
            committee=committee,
            congress=congress,
            action=action,
            expected_version=expected_version,
            reason=reason,
        )

    return await unit.run_exactly_once(OPERATIONS[action], request, idempotency_key, act)
