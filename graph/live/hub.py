"""The live hub, one per worker: it reads the change feed after the last position it read
and pushes each row to the listeners whose subtree roots contain the row's committee
(DESIGN.md, "How a request flows", 6: Live).

The feed (models/change_feed.py) is the truth. What wakes the hub only says "read now":
NOTIFY on PostgreSQL or PRAGMA data_version on SQLite (graph/live/wakeups.py), both
calling `wake()`, and a slow safety poll. A lost wakeup delays rows by at
most the safety poll; it never loses one.

Listeners hold no database connection: the hub reads each batch once for all of them, and
a listener borrows a session only for its replay read. A row finds its listeners through
an index from root path to listeners, looked up once per ancestor of the row's committee:
its cost depends on the tree's depth, not on the number of listeners.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from graph.live.wakeups import listen_for_notifications, poll_data_version
from models.change_feed import ChangeFeedEntry, changes_after
from models.database import create_session_factory, is_sqlite
from models.tree import path_prefixes
from permissions.scope import Scope

log = logging.getLogger(__name__)

BatchWatcher = Callable[[Sequence["FeedChange"]], None]


@dataclass(frozen=True, slots=True)
class FeedChange:
    """One change-feed row, as delivered to listeners."""

    position: int
    kind: str
    committee_id: int
    committee_path: str
    term_id: int | None
    recorded_at: datetime
    payload: dict[str, Any]

    @classmethod
    def from_entry(cls, entry: ChangeFeedEntry) -> FeedChange:
        return cls(
            position=entry.position,
            kind=entry.kind,
            committee_id=entry.committee_id,
            committee_path=entry.committee_path,
            term_id=entry.term_id,
            recorded_at=entry.recorded_at,
            payload=entry.payload,
        )


class ListenerEnded(Exception):
    """The listener delivers nothing more: closed, or one of the reasons below. The
    subscriber starts again from a fresh state with a new listener (or gives up)."""


class ResyncRequired(ListenerEnded):
    """More rows than the replay limit came after the cursor: reload, then listen anew."""


class FellBehind(ListenerEnded):
    """The listener's queue passed the limit: it was dropped to bound the worker's memory."""


class HubStopped(ListenerEnded):
    """The worker's hub stopped (the worker is shutting down)."""


class Listener:
    """One subscriber's rows under `roots`: those after its cursor first (replayed from the
    database), then live ones, each once, in feed order. One consumer calls `next()`, or is
    told through `on_ready` and takes them with `take_waiting()`."""

    __slots__ = (
        "_arrived",
        "_ended",
        "_hub",
        "_queue",
        "_replay_after",
        "_replay_through",
        "_replayed",
        "_seen_through",
        "on_ready",
        "roots",
    )

    def __init__(
        self, hub: LiveHub, roots: tuple[str, ...], after: int | None, position: int
    ) -> None:
        self.roots = roots
        self._hub = hub
        # Rows up to `position` (the hub's when listening began) come from the replay, the
        # later ones from the queue. A cursor ahead of this hub (another worker had read
        # further) replays nothing and skips the live rows the subscriber has already seen.
        self._replay_after = after if after is not None and after < position else None
        self._replay_through = position
        self._seen_through = position if after is None else max(after, position)
        # Lists, not deques: a deque costs 600 bytes empty, and thousands wait a worker.
        self._replayed: list[FeedChange] = []
        self._queue: list[FeedChange] = []
        # Made by the first wait: a consumer told through `on_ready` never waits.
        self._arrived: asyncio.Event | None = None
        self._ended: ListenerEnded | None = None
        # Called when rows arrive or the listener ends, for a consumer that is told rather
        # than waits in next() (graph/live/delivery.py).
        self.on_ready: Callable[[], None] | None = None

    @property
    def ended(self) -> ListenerEnded | None:
        return self._ended

    async def replay(self) -> None:
        """Read the rows after the cursor, if not read yet: `next()` does it first; a
        consumer that uses `take_waiting()` calls this before."""
        if self._replay_after is None or self._ended is not None:
            return
        try:
            replayed = await self._hub._replay(self.roots, self._replay_after, self._replay_through)
        except ResyncRequired as error:
            self.end(error)
        else:
            # Only now: a failed read is tried again by the next call, not skipped.
            self._replay_after = None
            if self._ended is None:  # closed or stopped during the read
                self._replayed.extend(replayed)

    async def next(self) -> FeedChange:
        """The next row; raises a `ListenerEnded` (ResyncRequired, FellBehind, HubStopped)
        once the listener can deliver nothing more."""
        await self.replay()
        while True:
            if self._ended is not None:
                raise self._ended
            if self._replayed:
                return self._replayed.pop(0)
            if self._queue:
                return self._queue.pop(0)
            if self._arrived is None:
                self._arrived = asyncio.Event()
            self._arrived.clear()
            await self._arrived.wait()

    def take_waiting(self) -> list[FeedChange]:
        """The rows already here (replayed or queued), removed without waiting: for a
        consumer that coalesces what piled up while it worked. A replay not yet read is
        still read by the next `next()`."""
        waiting = self._replayed + self._queue if self._replayed else self._queue
        self._replayed = []
        self._queue = []
        return waiting

    def end(self, reason: ListenerEnded) -> None:
        """Unregister and free the queue; `next()` raises `reason` from now on (the first
        reason given stays). For whoever ends a subscription from outside, such as an
        access check after a revoked role."""
        if self._ended is None:
            self._ended = reason
        self._queue.clear()
        self._replayed.clear()
        self._hub._unregister(self)
        self._tell()

    def close(self) -> None:
        """Unregister and free the queue; idempotent."""
        self.end(ListenerEnded("listener closed"))

    def _deliver(self, change: FeedChange) -> None:
        if change.position <= self._seen_through:
            return
        if len(self._queue) >= self._hub.queue_limit:
            self.end(FellBehind(f"more than {self._hub.queue_limit} changes waiting"))
            return
        self._queue.append(change)
        self._tell()

    def _tell(self) -> None:
        if self._arrived is not None:
            self._arrived.set()  # a consumer waiting in next() wakes (and raises if ended)
        if self.on_ready is not None:
            self.on_ready()

    async def __aenter__(self) -> Listener:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __aiter__(self) -> Listener:
        return self

    async def __anext__(self) -> FeedChange:
        return await self.next()


class LiveHub:
    """Reads the change feed once for the whole worker and fans it out (module docstring).

    Not thread-safe: call it from the worker's event loop only."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        poll_seconds: float = 0.05,
        safety_poll_seconds: float = 1.0,
        queue_limit: int = 1000,
        replay_limit: int = 1000,
        read_batch: int = 500,
    ) -> None:
        self.queue_limit = queue_limit
        self.replay_limit = replay_limit
        self._engine = engine
        # Shielded: stop() cancels the reader, which must not interrupt a pooled
        # connection halfway through a statement (models/shielded_session.py).
        self._sessions = create_session_factory(engine)
        self._poll_seconds = poll_seconds
        self._safety_poll_seconds = safety_poll_seconds
        self._read_batch = read_batch
        self._position = 0
        self._running = False
        self._nudge = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._listeners: set[Listener] = set()
        self._by_root: dict[str, set[Listener]] = {}
        self._batch_watchers: list[BatchWatcher] = []
        # Index lookups made to route rows: the routing cost, for tests and metrics.
        self.index_lookups = 0

    @property
    def position(self) -> int:
        """The last feed position this hub has read and fanned out."""
        return self._position

    @property
    def listener_count(self) -> int:
        return len(self._listeners)

    async def start(self) -> None:
        """Begin after the newest committed row, and start reading and watching."""
        if self._running or self._tasks:
            raise RuntimeError("a live hub starts once")
        async with self._sessions() as session:
            newest = await session.scalar(select(func.max(ChangeFeedEntry.position)))
        self._position = newest or 0
        self._running = True
        self._spawn(self._read_loop(), "live-hub-reader")
        watcher = self._wakeup_watcher()
        if watcher is not None:
            self._spawn(watcher, "live-hub-wakeups")

    async def stop(self) -> None:
        """Stop reading and watching (closing the watcher's connection), and end every
        listener with HubStopped, waking those waiting in `next()`."""
        self._running = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for listener in list(self._listeners):
            listener.end(HubStopped("the live hub stopped"))

    def listen(self, roots: Sequence[str], after: int | None = None) -> Listener:
        """A listener for the rows under `roots` (materialized paths): those after `after`
        first, then live ones; `after=None` for live ones only."""
        if not self._running:
            raise RuntimeError("the live hub is not running")
        # No await from here to the return: every row after `self._position` is delivered
        # to the new queue, and the replay reads up to it, so nothing falls in between.
        # Nested roots are merged, so a row reaches a listener through one root only.
        listener = Listener(self, Scope.from_paths(roots).root_paths, after, self._position)
        self._listeners.add(listener)
        for root in listener.roots:
            self._by_root.setdefault(root, set()).add(listener)
        return listener

    def wake(self) -> None:
        """Read the feed now: a watcher heard that another connection committed."""
        self._nudge.set()

    def watch_all(self, callback: BatchWatcher) -> Callable[[], None]:
        """Call `callback` with every batch of rows read, after its listeners got them (for
        per-worker bookkeeping such as re-checking access after a revoked role); returns a
        function that unsubscribes. The callback must not block: the reader waits for it."""
        self._batch_watchers.append(callback)

        def unsubscribe() -> None:
            if callback in self._batch_watchers:
                self._batch_watchers.remove(callback)

        return unsubscribe

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        task.add_done_callback(_log_failure)
        self._tasks.append(task)

    def _wakeup_watcher(self) -> Coroutine[Any, Any, None] | None:
        url = self._engine.url
        if not is_sqlite(self._engine):
            dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
            return listen_for_notifications(dsn, self.wake)
        if url.database and url.database != ":memory:":
            return poll_data_version(url.database, self._poll_seconds, self.wake)
        # One in-memory database is this worker's alone: wake() and the safety poll suffice.
        return None

    async def _read_loop(self) -> None:
        """The one reader: reads are serialized, so rows are fanned out once and in order."""
        while True:
            # Past the safety poll's period, read anyway. (asyncio.timeout, not wait_for:
            # on Python 3.11 wait_for loses a cancellation that comes as the event is set,
            # and stop() then waited for ever.)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._safety_poll_seconds):
                    await self._nudge.wait()
            self._nudge.clear()
            try:
                await self._read_new()
            except Exception:
                log.exception("live hub: reading the change feed failed; retrying")
                # Not at once: wakeups keep coming while the database is away.
                await asyncio.sleep(self._safety_poll_seconds)

    async def _read_new(self) -> None:
        """Read and fan out the rows after `position`, a batch at a time, to a short batch."""
        while True:
            async with self._sessions() as session:
                entries = await changes_after(session, self._position, self._read_batch)
                batch = [FeedChange.from_entry(entry) for entry in entries]
            # No await from here to the end of the batch: each row reaches every listener
            # registered so far, and `position` passes it in the same step (see listen()).
            for change in batch:
                self._route(change)
            if batch:
                self._position = batch[-1].position
                for callback in list(self._batch_watchers):
                    try:
                        callback(batch)
                    except Exception:
                        log.exception("live hub: a batch watcher failed")
            if len(batch) < self._read_batch:
                return

    def _route(self, change: FeedChange) -> None:
        """Deliver to the listeners rooted at the row's committee or one of its ancestors:
        one index lookup per level of the tree."""
        for prefix in path_prefixes(change.committee_path):
            self.index_lookups += 1
            found = self._by_root.get(prefix)
            if found:
                # A copy: a listener whose queue overflows unregisters itself.
                for listener in list(found):
                    listener._deliver(change)

    def _unregister(self, listener: Listener) -> None:
        if listener not in self._listeners:
            return
        self._listeners.discard(listener)
        for root in listener.roots:
            group = self._by_root.get(root)
            if group is not None:
                group.discard(listener)
                if not group:
                    del self._by_root[root]

    async def _replay(self, roots: tuple[str, ...], after: int, through: int) -> list[FeedChange]:
        """The rows under `roots` with after < position <= through, in feed order, read in
        a session borrowed for this read only; ResyncRequired past the replay limit."""
        if not roots:
            return []
        statement = (
            select(ChangeFeedEntry)
            .where(
                ChangeFeedEntry.position > after,
                ChangeFeedEntry.position <= through,
                Scope(roots).condition(ChangeFeedEntry.committee_path),
            )
            .order_by(ChangeFeedEntry.position)
            # One more than allowed tells "too many" without reading them all.
            .limit(self.replay_limit + 1)
        )
        async with self._sessions() as session:
            entries = (await session.scalars(statement)).all()
            changes = [FeedChange.from_entry(entry) for entry in entries]
        if len(changes) > self.replay_limit:
            raise ResyncRequired(f"more than {self.replay_limit} changes after the cursor")
        return changes


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("live hub: %s stopped", task.get_name(), exc_info=task.exception())
