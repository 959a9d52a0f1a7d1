"""Live summaries: `progress(committeeId:, term:)` for every subscriber watching a committee,
computed once per change and shared.

A worker keeps one `SummaryWatch` per (committee, term) that anyone on it watches. It
listens to the feed under the committee; after a change to a congress of the term, it reads
the summary once (the same rollup read as `Committee.progress`, a fixed number of statements
whatever the subtree's size), at most once per `CONGRESS_LIVE_INTERVAL_MS`, and hands the
same object to every subscriber. A subscriber keeps only the newest summary: one that reads
slowly skips to the latest instead of queueing old ones. The watch ends with its last
subscriber.

The summary covers the committee's whole subtree, so it is the same for every viewer who
sees the committee: the subscription checks that before it joins a watch.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from graph.live.hub import FeedChange, FellBehind, ListenerEnded, LiveHub
from graph.observability.metrics import live_summary_reads
from graph.progress_loaders import ProgressLoaders, SubtreeKey
from graph.schema.progress_summary import SubtreeProgressFigures
from graph.term_catalog import TermCatalog
from models import Committee, Term
from models.change_feed import ChangeKind
from permissions.scope import Scope

logger = logging.getLogger("congress.live")

# The changes that move a congress's counters (its report's state is one of them).
_CONGRESS_KINDS = frozenset(
    {
        ChangeKind.MILESTONE,
        ChangeKind.RESULTS,
        ChangeKind.DEADLINE,
        ChangeKind.REPORT_SUBMITTED,
        ChangeKind.REPORT_APPROVED,
        ChangeKind.REPORT_RETURNED,
        ChangeKind.REPORT_REOPENED,
    }
)


@dataclass(frozen=True, slots=True)
class WatchKey:
    committee_id: int
    term_id: int


class SummaryFollower:
    """One subscriber's summaries: the newest only, so a slow reader skips to the latest.
    Its consumer waits in `anext()`, or is told through `on_ready` and calls `take_newest()`."""

    __slots__ = ("_changed", "_ended", "_newest", "_watch", "on_ready")

    def __init__(self, watch: SummaryWatch) -> None:
        self._watch = watch
        self._newest: SubtreeProgressFigures | None = None
        self._ended: ListenerEnded | None = None
        # Made by the first wait: a consumer told through `on_ready` never waits.
        self._changed: asyncio.Event | None = None
        self.on_ready: Callable[[], None] | None = None

    @property
    def ended(self) -> ListenerEnded | None:
        return self._ended

    def offer(self, figures: SubtreeProgressFigures) -> None:
        self._newest = figures
        self._tell()

    def end(self, reason: ListenerEnded) -> None:
        """No more summaries: the next wait raises `reason`."""
        if self._ended is None:
            self._ended = reason
        self._tell()

    def take_newest(self) -> SubtreeProgressFigures | None:
        """The summary not yet taken, if any."""
        newest, self._newest = self._newest, None
        return newest

    def __aiter__(self) -> SummaryFollower:
        return self

    async def __anext__(self) -> SubtreeProgressFigures:
        while True:
            if self._ended is not None:
                raise self._ended
            newest = self.take_newest()
            if newest is not None:
                return newest
            if self._changed is None:
                self._changed = asyncio.Event()
            self._changed.clear()
            await self._changed.wait()

    def close(self) -> None:
        self._watch.leave(self)

    def _tell(self) -> None:
        if self._changed is not None:
            self._changed.set()
        if self.on_ready is not None:
            self.on_ready()


class SummaryWatch:
    def __init__(self, watches: SummaryWatches, committee: Committee, term: Term) -> None:
        self.key = WatchKey(committee.id, term.id)
        self._watches = watches
        self._committee_path = committee.path
        self._committee_depth = committee.depth
        self._term = term
        self._followers: set[SummaryFollower] = set()
        self._latest: SubtreeProgressFigures | None = None
        self._task: asyncio.Task[None] | None = None

    def join(self) -> SummaryFollower:
        """A follower that gets the summary now (once read), then each new one."""
        follower = SummaryFollower(self)
        if self._latest is not None:
            follower.offer(self._latest)
        self._followers.add(follower)
        if self._task is None:
            # In a context of its own: it outlives the subscriber that started it.
            self._task = asyncio.create_task(
                self._run(), name="live-summary", context=contextvars.Context()
            )
        return follower

    def leave(self, follower: SummaryFollower) -> None:
        self._followers.discard(follower)
        if not self._followers:
            self._stop()

    def _stop(self) -> None:
        self._watches.forget(self)
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        """Read, publish, and read again after each change that moves the counters, until
        the last follower leaves (which cancels this) or the hub stops."""
        try:
            while True:
                await self._follow_feed()
        except ListenerEnded as ended:
            self._end_followers(ended)
        except Exception:
            logger.exception("live summary of committee %s failed", self.key.committee_id)
            self._end_followers(ListenerEnded("The live summary stopped; subscribe again."))
        finally:
            # A watch whose task ended is never restarted: the next subscriber starts anew.
            self._watches.forget(self)
            self._task = None

    async def _follow_feed(self) -> None:
        """One listener's life: returns when it fell behind (a burst of changes while this
        waited out the interval), so that a new one starts with a fresh read."""
        interval = self._watches.interval_seconds
        clock = asyncio.get_running_loop()
        listener = self._watches.hub.listen([self._committee_path])
        try:
            await self._publish(await self._read())
            read_at = clock.time()
            while True:
                if not self._moves_counters([await listener.next()]):
                    continue
                await asyncio.sleep(max(0.0, read_at + interval - clock.time()))
                # What arrived meanwhile is in the read below: one read for all of it.
                listener.take_waiting()
                read_at = clock.time()
                await self._publish(await self._read())
        except FellBehind:
            return
        finally:
            listener.close()

    def _end_followers(self, reason: ListenerEnded) -> None:
        for follower in list(self._followers):
            follower.end(reason)

    def _moves_counters(self, changes: list[FeedChange]) -> bool:
        # A committee created, closed, moved or merged below changes the totals too.
        return any(
            change.kind == ChangeKind.TREE
            or (change.kind in _CONGRESS_KINDS and change.term_id == self._term.id)
            for change in changes
        )

    async def _read(self) -> SubtreeProgressFigures:
        live_summary_reads.inc()
        async with self._watches.sessions() as session:
            snapshot = await self._watches.terms.snapshot(session)
            # The committee's own subtree: every subscriber sees all of it.
            loaders = ProgressLoaders(session, Scope((self._committee_path,)))
            summary = await loaders.subtree_progress.load(
                SubtreeKey(self.key.committee_id, self._committee_path, self._term.id)
            )
        return SubtreeProgressFigures.of(
            summary, self._term, snapshot.templates_of(self._term.id), self._committee_depth
        )

    async def _publish(self, figures: SubtreeProgressFigures) -> None:
        self._latest = figures
        for follower in self._followers:
            follower.offer(figures)


@dataclass(slots=True)
class SummaryWatches:
    """The worker's summary watches, by (committee, term)."""

    hub: LiveHub
    sessions: async_sessionmaker[AsyncSession]
    terms: TermCatalog
    interval_seconds: float
    _watching: dict[WatchKey, SummaryWatch] = field(default_factory=dict)

    def of(self, committee: Committee, term: Term) -> SummaryWatch:
        key = WatchKey(committee.id, term.id)
        watch = self._watching.get(key)
        if watch is None:
            watch = self._watching[key] = SummaryWatch(self, committee, term)
        return watch

    def forget(self, watch: SummaryWatch) -> None:
        if self._watching.get(watch.key) is watch:
            del self._watching[watch.key]
