"""The root mutations of congress progress."""

from __future__ import annotations

import strawberry

from graph.schema.mutations import deadline_set, milestone_record, report_transitions


@strawberry.type
class ProgressMutations:
    record_milestone = strawberry.mutation(
        resolver=milestone_record.record_milestone,
        description="Record that a congress started or reached one of its term's milestones "
        "(or correct an earlier record). Needs the reporter role.",
    )
    record_results = strawberry.mutation(
        resolver=milestone_record.record_results,
        description="Record (or correct) a held congress's results. Needs the reporter role.",
    )
    set_deadline = strawberry.mutation(
        resolver=deadline_set.set_deadline,
        description="Set the deadline of one congress (as an admin above it) or of every "
        "congress at a level below you.",
    )
    submit_report = strawberry.mutation(
        resolver=report_transitions.submit_report,
        description="Submit a congress's report to the level above, once it is complete "
        "(held, the template's required milestones done, results recorded). Needs the "
        "reporter role at the committee; locks its milestones, results and deadline.",
    )
    approve_report = strawberry.mutation(
        resolver=report_transitions.approve_report,
        description="Approve a submitted report. Needs the approver role at a level above; "
        "never for a committee you are assigned to.",
    )
    return_report = strawberry.mutation(
        resolver=report_transitions.return_report,
        description="Send a submitted report back, with a reason; unlocks it. Needs the "
        "approver role at a level above.",
    )
    reopen_report = strawberry.mutation(
        resolver=report_transitions.reopen_report,
        description="Reopen an approved report, with a reason; unlocks it. Needs the "
        "approver role at a level above.",
    )
