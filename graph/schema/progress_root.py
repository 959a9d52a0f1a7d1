"""The root mutations of congress progress."""

from __future__ import annotations

import strawberry

from graph.schema.mutations import deadline_set, milestone_record


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
