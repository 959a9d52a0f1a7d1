"""Per-request DataLoaders for congress progress: milestone states, results, summaries.

Separate from graph.loaders to keep each file about one thing; built and reset together
with them by the Context.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from models import (
    Congress,
    CongressEvent,
    CongressMilestone,
    CongressResult,
    Term,
)
from models.base import MAX_KEYS_PER_STATEMENT
from models.congress_progress import local_today
from models.progress_summary import (
    DUE_SOON_DAYS,
    EVERY_COUNTER,
    CountersWanted,
    SubtreeProgress,
    fold_progress,
)
from permissions import visible, visible_progress
from permissions.scope import Scope


@dataclass(frozen=True, slots=True)
class SubtreeKey:
    committee_id: int
    # The committee's path as read with it (the scope is checked on it).
    path: str
    term_id: int
    # What the summary is read for: the counters nobody shows are neither read nor folded.
    wanted: CountersWanted = EVERY_COUNTER


@dataclass(frozen=True, slots=True)
class TimelineKey:
    committee_id: int
    term_id: int
    start: date
    end: date


@dataclass(frozen=True, slots=True)
class HistoryPageKey:
    congress_id: int
    limit: int
    after_id: int | None


class ProgressLoaders:
    """Like graph.loaders.Loaders, for progress: each made when first used."""

    def __init__(self, session: AsyncSession, scope: Scope) -> None:
        self._session = session
        self._scope = scope

    @cached_property
    def milestone_states(self) -> DataLoader[int, list[CongressMilestone]]:
        return DataLoader(load_fn=self._milestone_states, max_batch_size=MAX_KEYS_PER_STATEMENT)

    @cached_property
    def results(self) -> DataLoader[int, CongressResult | None]:
        return DataLoader(load_fn=self._results, max_batch_size=MAX_KEYS_PER_STATEMENT)

    @cached_property
    def reports(self) -> DataLoader[int, visible.ReportRead | None]:
        """Each congress's report; None for one still a DRAFT with no row."""
        return DataLoader(load_fn=self._reports, max_batch_size=MAX_KEYS_PER_STATEMENT)

    @cached_property
    def history_page(self) -> DataLoader[HistoryPageKey, list[CongressEvent]]:
        return DataLoader(load_fn=self._history_pages, max_batch_size=MAX_KEYS_PER_STATEMENT)

    @cached_property
    def history_count(self) -> DataLoader[int, int]:
        return DataLoader(load_fn=self._history_counts, max_batch_size=MAX_KEYS_PER_STATEMENT)

    @cached_property
    def congress_by_id(self) -> DataLoader[int, tuple[Congress, Term] | None]:
        return DataLoader(load_fn=self._congresses, max_batch_size=MAX_KEYS_PER_STATEMENT)

    @cached_property
    def subtree_progress(self) -> DataLoader[SubtreeKey, SubtreeProgress]:
        return DataLoader(load_fn=self._subtree_progress, max_batch_size=MAX_KEYS_PER_STATEMENT)

    @cached_property
    def held_timeline(self) -> DataLoader[TimelineKey, tuple[int, list[tuple[date, int]]]]:
        return DataLoader(load_fn=self._held_timelines, max_batch_size=MAX_KEYS_PER_STATEMENT)

    async def _subtree_progress(self, keys: Sequence[SubtreeKey]) -> list[SubtreeProgress]:
        # A dashboard's children share a term and a selection: one statement for all of them.
        found: dict[SubtreeKey, SubtreeProgress] = {}
        today = local_today()
        batches: dict[tuple[int, CountersWanted], list[SubtreeKey]] = defaultdict(list)
        for key in keys:
            batches[key.term_id, key.wanted].append(key)
        for (term_id, wanted), batch in batches.items():
            paths = {key.committee_id: key.path for key in batch}
            counters = await visible_progress.subtree_counters(
                self._session,
                self._scope,
                paths,
                term_id,
                today=today,
                due_soon_days=DUE_SOON_DAYS,
                wanted=wanted,
            )
            summaries = fold_progress(paths, counters)
            for key in batch:
                found[key] = summaries[key.committee_id]
        return [found[key] for key in keys]

    async def _held_timelines(
        self, keys: Sequence[TimelineKey]
    ) -> list[tuple[int, list[tuple[date, int]]]]:
        found: dict[TimelineKey, tuple[int, list[tuple[date, int]]]] = {}
        windows: dict[tuple[int, date, date], list[TimelineKey]] = defaultdict(list)
        for key in keys:
            windows[key.term_id, key.start, key.end].append(key)
        for (term_id, start, end), window in windows.items():
            before, by_day = await visible_progress.held_by_day(
                self._session,
                self._scope,
                [key.committee_id for key in window],
                term_id,
                start=start,
                end=end,
            )
            for key in window:
                found[key] = (before.get(key.committee_id, 0), by_day.get(key.committee_id, []))
        return [found[key] for key in keys]

    async def _history_pages(self, keys: Sequence[HistoryPageKey]) -> list[list[CongressEvent]]:
        # Keys of one query share their window: one statement per distinct window.
        windows: dict[tuple[int, int | None], list[int]] = defaultdict(list)
        for key in keys:
            windows[key.limit, key.after_id].append(key.congress_id)
        pages: dict[HistoryPageKey, list[CongressEvent]] = {}
        for (limit, after_id), congress_ids in windows.items():
            found = await visible.congress_history_pages(
                self._session, self._scope, congress_ids, limit=limit, after_id=after_id
            )
            for congress_id, events in found.items():
                pages[HistoryPageKey(congress_id, limit, after_id)] = events
        return [pages[key] for key in keys]

    async def _history_counts(self, congress_ids: Sequence[int]) -> list[int]:
        counts = await visible.congress_history_counts(self._session, self._scope, congress_ids)
        return [counts[congress_id] for congress_id in congress_ids]

    async def _congresses(self, ids: Sequence[int]) -> list[tuple[Congress, Term] | None]:
        found = await visible.congresses_by_ids(self._session, self._scope, ids)
        return [found.get(congress_id) for congress_id in ids]

    async def _milestone_states(self, congress_ids: Sequence[int]) -> list[list[CongressMilestone]]:
        found = await visible.milestone_states(self._session, self._scope, congress_ids)
        return [found[congress_id] for congress_id in congress_ids]

    async def _reports(self, congress_ids: Sequence[int]) -> list[visible.ReportRead | None]:
        found = await visible.congress_reports(self._session, self._scope, congress_ids)
        return [found.get(congress_id) for congress_id in congress_ids]

    async def _results(self, congress_ids: Sequence[int]) -> list[CongressResult | None]:
        found = await visible.congress_results(self._session, self._scope, congress_ids)
        return [found.get(congress_id) for congress_id in congress_ids]
