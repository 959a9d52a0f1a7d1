"""Progress summed over a subtree: what a leader's dashboard and the reports show."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.types.base import get_object_definition

from graph.context import Info
from graph.resolvers import progress_summary as resolve
from graph.schema.cost import costs
from models import MilestoneTemplate, rollups
from models import Term as TermRow
from models.progress_summary import (
    DUE_SOON,
    DUE_SOON_DAYS,
    EVERY_COUNTER,
    OVERDUE,
    REPORTS_OVERDUE,
    CountersWanted,
    ProgressCounts,
    SubtreeProgress,
)

COUNTERS = "congress.counters"
# What a summary weighs in an operation's cost (graph/schema/cost.py): its share of a
# statement per level and the fold of its counters, against 1 for a plain field.
SUMMARY_COST = 10


def counted_from(
    *scalars: str, milestones: bool = False, result_sums: bool = False
) -> Mapping[str, CountersWanted]:
    """A field's metadata: the rollup counters its value is made of. A field without it is
    made of all of them, level by level (the safe answer for a field added later)."""
    return {COUNTERS: CountersWanted(frozenset(scalars), milestones, result_sums)}


@strawberry.enum(description="The spacing of timeline points.")
class TimelineInterval(Enum):
    DAY = "day"
    WEEK = "week"


_INTERVAL_DAYS = {TimelineInterval.DAY: 1, TimelineInterval.WEEK: 7}


@strawberry.type(description="How many congresses have reached one step of the term's template.")
class MilestoneProgress:
    milestone: str = strawberry.field(description="The step's code in the term's template.")
    name: str
    position: int
    done: int
    in_progress: int
    not_started: int


@strawberry.type(description="Results added up over the congresses that reported them.")
class ResultTotals:
    congresses_reporting: int
    members_elected: int
    women: int
    under40: int
    ethnic_minority: int
    secretary_directly_elected: int = strawberry.field(
        description="Congresses that elected their secretary directly."
    )


@strawberry.type(description="The congresses' reports to the level above, by state.")
class ReportCounts:
    draft: int = strawberry.field(description="Not yet submitted (or never moved).")
    submitted: int = strawberry.field(description="Waiting for a decision above.")
    approved: int
    returned: int = strawberry.field(description="Sent back, to be corrected and sent again.")
    reopened: int = strawberry.field(description="Approved, then reopened above.")
    overdue: int = strawberry.field(
        description="Not approved, and their level's report deadline in the term "
        "(`Term.reportDeadlines`) has passed (whatever their state)."
    )


REPORT_MEASURES = tuple(
    rollups.REPORT_PREFIX + state for state in ("submitted", "approved", "returned", "reopened")
)


@strawberry.type(description="Congresses held by a date, counting every one before it.")
class TimelinePoint:
    date: datetime.date
    congresses_held: int


@strawberry.type(description="Counts over a set of congresses in one term.")
class ProgressFigures:
    # The counters are plain fields, filled when the figures are made, and the lists are
    # plain functions: a dashboard asks for dozens of these numbers per committee, and for
    # a field with a resolver strawberry builds an Info and converts arguments, where a
    # plain field is read as an attribute.
    counts: strawberry.Private[ProgressCounts]
    templates: strawberry.Private[Sequence[MilestoneTemplate]]
    total: int = strawberry.field(
        description="Congresses of open committees.", metadata=counted_from(rollups.TOTAL)
    )
    congresses_held: int = strawberry.field(
        description="Held (or completed): the congress took place.",
        metadata=counted_from(rollups.HELD),
    )
    congresses_completed: int = strawberry.field(
        description="Every step done, results reported.",
        metadata=counted_from(rollups.COMPLETED),
    )
    in_progress: int = strawberry.field(
        description="Started, not yet held.", metadata=counted_from(rollups.IN_PROGRESS)
    )
    not_started: int = strawberry.field(
        metadata=counted_from(rollups.TOTAL, rollups.IN_PROGRESS, rollups.HELD)
    )
    completion_rate: float = strawberry.field(
        description="congressesHeld / total, from 0 to 1 (0 with no congress).",
        metadata=counted_from(rollups.HELD, rollups.TOTAL),
    )
    overdue: int = strawberry.field(
        description="Past the deadline and not held (dates in Vietnam's time).",
        metadata=counted_from(OVERDUE),
    )
    due_soon: int = strawberry.field(
        description=f"Not held, deadline today or within the next {DUE_SOON_DAYS} days.",
        metadata=counted_from(DUE_SOON),
    )

    @strawberry.field(
        description="Every step of the term's template, in order.",
        metadata=counted_from(rollups.TOTAL, milestones=True),
    )
    def by_milestone(self) -> list[MilestoneProgress]:
        counts = self.counts
        figures = []
        for template in self.templates:
            done = counts.milestones_done.get(template.code, 0)
            started = counts.milestones_in_progress.get(template.code, 0)
            figures.append(
                MilestoneProgress(
                    milestone=template.code,
                    name=template.name,
                    position=template.position,
                    done=done,
                    in_progress=started,
                    not_started=counts.total - done - started,
                )
            )
        return figures

    @strawberry.field(
        metadata=counted_from(
            rollups.RESULTS_RECORDED, rollups.SECRETARY_DIRECTLY_ELECTED, result_sums=True
        )
    )
    def results(self) -> ResultTotals:
        sums = self.counts.result_sums
        return ResultTotals(
            congresses_reporting=self.counts.results_recorded,
            members_elected=sums.get("members_elected", 0),
            women=sums.get("women", 0),
            under40=sums.get("under_40", 0),
            ethnic_minority=sums.get("ethnic_minority", 0),
            secretary_directly_elected=self.counts.secretary_directly_elected,
        )

    @strawberry.field(
        description="The reports to the level above, by state (models/reports.py).",
        metadata=counted_from(rollups.TOTAL, *REPORT_MEASURES, REPORTS_OVERDUE),
    )
    def reports(self) -> ReportCounts:
        counts = self.counts
        return ReportCounts(
            draft=counts.reports_draft,
            submitted=counts.reports_submitted,
            approved=counts.reports_approved,
            returned=counts.reports_returned,
            reopened=counts.reports_reopened,
            overdue=counts.reports_overdue,
        )


def _figures(counts: ProgressCounts, templates: Sequence[MilestoneTemplate]) -> dict[str, Any]:
    """The keyword arguments every ProgressFigures is made with."""
    return {
        "counts": counts,
        "templates": templates,
        "total": counts.total,
        "congresses_held": counts.held,
        "congresses_completed": counts.completed,
        "in_progress": counts.in_progress,
        "not_started": counts.not_started,
        "completion_rate": counts.completion_rate,
        "overdue": counts.overdue,
        "due_soon": counts.due_soon,
    }


@strawberry.type(description="The congresses at one level below a committee.")
class LevelProgress(ProgressFigures):
    depth: int = strawberry.field(description="The level's depth in the tree (the root is 1).")
    levels_below: int = strawberry.field(description="0 is the committee itself.")


@strawberry.type(description="The congresses of a committee's subtree (itself included).")
class SubtreeProgressFigures(ProgressFigures):
    term_row: strawberry.Private[TermRow]
    summary: strawberry.Private[SubtreeProgress]
    committee_depth: strawberry.Private[int]

    @strawberry.field(metadata=counted_from())
    def term(self) -> str:
        return self.term_row.code

    @strawberry.field(description="One entry per level that has congresses, top down.")
    def by_depth(self) -> list[LevelProgress]:
        return [
            LevelProgress(
                **_figures(counts, self.templates),
                depth=self.committee_depth + levels_below,
                levels_below=levels_below,
            )
            for levels_below, counts in sorted(self.summary.by_level.items())
            if counts.total
        ]

    @strawberry.field(
        description="Congresses held so far at each point from `from` (the term's start) to "
        "`to` (today), one point per interval: a progress curve.",
        metadata={
            **counted_from(),  # read from its own rollups
            **costs(max_items=resolve.MAX_TIMELINE_POINTS),
        },
    )
    async def timeline(
        self,
        info: Info,
        from_: Annotated[datetime.date | None, strawberry.argument(name="from")] = None,
        to: datetime.date | None = None,
        interval: TimelineInterval = TimelineInterval.DAY,
    ) -> list[TimelinePoint]:
        points = await resolve.timeline(
            info.context,
            self.summary.committee_id,
            self.term_row,
            from_,
            to,
            _INTERVAL_DAYS[interval],
        )
        return [TimelinePoint(date=day, congresses_held=held) for day, held in points]

    @classmethod
    def of(
        cls,
        summary: SubtreeProgress,
        term: TermRow,
        templates: Sequence[MilestoneTemplate],
        depth: int,
    ) -> SubtreeProgressFigures:
        return cls(
            **_figures(summary.overall, templates),
            term_row=term,
            summary=summary,
            committee_depth=depth,
        )


_COUNTERS_OF_FIELD = {
    field.python_name: field.metadata.get(COUNTERS, EVERY_COUNTER)
    for field in get_object_definition(SubtreeProgressFigures, strict=True).fields
}


def counters_shown(selected: Iterable[str] | None) -> CountersWanted:
    """The counters that the fields `selected` of SubtreeProgressFigures (Python names) are
    made of; every counter when the selection is not known."""
    if selected is None:
        return EVERY_COUNTER
    return CountersWanted.joined(_COUNTERS_OF_FIELD.get(name, EVERY_COUNTER) for name in selected)
