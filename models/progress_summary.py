"""What a subtree's rollup rows say, folded into the numbers a dashboard shows.

Pure functions over rows read by permissions.visible_progress: no SQL here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

from models import rollups
from models.congress import MilestoneStatus
from models.report_rows import ReportState

# How far ahead "due soon" looks.
DUE_SOON_DAYS = 14
# Counted when read, from the open deadlines by day (never stored under these names).
OVERDUE = "overdue"
DUE_SOON = "due_soon"
# Counted when read, from each level's congresses and approved reports and the term's
# report deadlines: a report is overdue once its level's deadline has passed unapproved.
REPORTS_OVERDUE = "reports_overdue"
# Measures no rollup row stores: the reads compute them.
COUNTED_WHEN_READ = frozenset({OVERDUE, DUE_SOON, REPORTS_OVERDUE})


@dataclass(slots=True)
class ProgressCounts:
    """Counts over a set of congresses (a subtree, or one level of it)."""

    total: int = 0
    in_progress: int = 0
    held: int = 0
    completed: int = 0
    overdue: int = 0
    due_soon: int = 0
    # Milestone code -> congresses where it is done / in progress.
    milestones_done: dict[str, int] = field(default_factory=dict)
    milestones_in_progress: dict[str, int] = field(default_factory=dict)
    results_recorded: int = 0
    secretary_directly_elected: int = 0
    # Column of congress_result -> sum over the congresses that reported results.
    result_sums: dict[str, int] = field(default_factory=dict)
    # Reports by state, for those that left DRAFT (a DRAFT is any other congress).
    reports_submitted: int = 0
    reports_approved: int = 0
    reports_returned: int = 0
    reports_reopened: int = 0
    reports_overdue: int = 0

    @property
    def reports_draft(self) -> int:
        return (
            self.total
            - self.reports_submitted
            - self.reports_approved
            - self.reports_returned
            - self.reports_reopened
        )

    @property
    def not_started(self) -> int:
        return self.total - self.in_progress - self.held

    @property
    def completion_rate(self) -> float:
        """The share of congresses held (0 with no congress)."""
        return self.held / self.total if self.total else 0.0

    def add_counter(self, measure: str, value: int) -> None:
        attribute, key = _counted_as(measure)
        if key is not None:
            by_key: dict[str, int] = getattr(self, attribute)
            by_key[key] = by_key.get(key, 0) + value
        elif attribute:
            setattr(self, attribute, getattr(self, attribute) + value)

    def add(self, other: ProgressCounts) -> None:
        for name in _SCALARS.values():
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in (
            (self.milestones_done, other.milestones_done),
            (self.milestones_in_progress, other.milestones_in_progress),
            (self.result_sums, other.result_sums),
        ):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value


_SCALARS = {
    rollups.TOTAL: "total",
    rollups.IN_PROGRESS: "in_progress",
    rollups.HELD: "held",
    rollups.COMPLETED: "completed",
    rollups.RESULTS_RECORDED: "results_recorded",
    rollups.SECRETARY_DIRECTLY_ELECTED: "secretary_directly_elected",
    OVERDUE: "overdue",
    DUE_SOON: "due_soon",
    REPORTS_OVERDUE: "reports_overdue",
    **{
        rollups.REPORT_PREFIX + state.value: f"reports_{state.value}"
        for state in ReportState
        if state is not ReportState.DRAFT
    },
}


@lru_cache(maxsize=1024)
def _counted_as(measure: str) -> tuple[str, str | None]:
    """Where a rollup measure adds up in ProgressCounts: (attribute, key in that dict, or
    None for a number); ("", None) for one it does not show. Parsed once per name: a summary
    folds dozens of rows, and the names are few (the scalars, two per template step)."""
    if measure.startswith(rollups.MILESTONE_PREFIX):
        status, code = measure.removeprefix(rollups.MILESTONE_PREFIX).split(":", 1)
        if status == MilestoneStatus.DONE.value:
            return "milestones_done", code
        return "milestones_in_progress", code
    if measure in rollups.RESULT_SUMS:
        return "result_sums", measure
    return _SCALARS.get(measure, ""), None


# (committee, levels below it or None for its whole subtree, measure, value): a rollup read.
Counter = tuple[int, int | None, str, int]


@dataclass(frozen=True, slots=True)
class CountersWanted:
    """The rollup counters a reader shows, and nothing else: a dashboard row asking for
    three numbers of twenty committees folds sixty counters, not the thousand rows of
    every measure at every level below them."""

    # Measures counted as numbers (rollups.TOTAL, ..., OVERDUE, DUE_SOON).
    scalars: frozenset[str]
    # Every milestone measure, done and in progress.
    milestones: bool = False
    # Every sum of results (rollups.RESULT_SUMS).
    result_sums: bool = False
    # Counts level by level; without it, only the subtree's overall counts are filled.
    by_level: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.scalars or self.milestones or self.result_sums)

    @property
    def deadlines(self) -> bool:
        """Whether the counts from open deadlines (overdue, due soon) are read."""
        return OVERDUE in self.scalars or DUE_SOON in self.scalars

    @property
    def report_deadlines(self) -> bool:
        """Whether overdue reports are counted (from the term's report deadlines)."""
        return REPORTS_OVERDUE in self.scalars

    def stored_scalars(self) -> list[str]:
        """The wanted numbers kept in rollup rows, in a fixed order (statements are cached)."""
        return sorted(self.scalars - COUNTED_WHEN_READ)

    @staticmethod
    def joined(parts: Iterable[CountersWanted]) -> CountersWanted:
        scalars: set[str] = set()
        milestones = result_sums = by_level = False
        for part in parts:
            scalars |= part.scalars
            milestones |= part.milestones
            result_sums |= part.result_sums
            by_level |= part.by_level
        return CountersWanted(frozenset(scalars), milestones, result_sums, by_level)


EVERY_COUNTER = CountersWanted(frozenset(_SCALARS), True, True, True)


@dataclass(slots=True)
class SubtreeProgress:
    """A committee's subtree in one term: in all, and level by level below the committee."""

    committee_id: int
    overall: ProgressCounts = field(default_factory=ProgressCounts)
    # levels below the committee (0 = the committee itself) -> counts at that level.
    by_level: dict[int, ProgressCounts] = field(default_factory=dict)

    def level(self, levels_below: int) -> ProgressCounts:
        # Not setdefault: that would build (and drop) a ProgressCounts for every row read.
        counts = self.by_level.get(levels_below)
        if counts is None:
            counts = self.by_level[levels_below] = ProgressCounts()
        return counts


def fold_progress(
    committee_ids: Iterable[int], counters: Iterable[Counter]
) -> dict[int, SubtreeProgress]:
    """Summaries from (committee, levels below, measure, value) rows; a row whose levels
    below are None is already summed over the whole subtree (CountersWanted.by_level off)."""
    found = {committee_id: SubtreeProgress(committee_id) for committee_id in committee_ids}
    for committee_id, levels_below, measure, value in counters:
        summary = found[committee_id]
        counts = summary.overall if levels_below is None else summary.level(levels_below)
        counts.add_counter(measure, value)
    for summary in found.values():
        for counts in summary.by_level.values():
            summary.overall.add(counts)
    return found


def timeline_points(
    held_before: int, held_by_day: Iterable[tuple[date, int]], start: date, end: date, step: int
) -> list[tuple[date, int]]:
    """Cumulative congresses held at `start`, `start + step` days, ... up to `end` (always
    included), from the count before `start` and the count held on each day in between."""
    per_day: dict[date, int] = defaultdict(int)
    for day, count in held_by_day:
        per_day[day] += count
    points: list[tuple[date, int]] = []
    running = held_before
    day = start
    next_point = start
    while day <= end:
        running += per_day.get(day, 0)
        if day in (next_point, end):
            points.append((day, running))
            next_point = day + timedelta(days=step)
        day += timedelta(days=1)
    return points
