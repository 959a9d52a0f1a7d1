"""A worker's live half, started with its first subscriber and stopped with the worker.

It holds the hub that reads the change feed (graph/live/hub.py), the cursor key, the
committee names, the access check and the shared summaries. Nothing here holds a database
connection between messages: each piece of work borrows a session from the pool.
"""

from __future__ import annotations

import asyncio
import contextvars
from contextlib import suppress
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from config import Settings
from graph.live import cursors
from graph.live.access import RECHECK_SECONDS, LiveAccess
from graph.live.cursors import FeedCursors
from graph.live.delivery import Pusher
from graph.live.hub import LiveHub
from graph.live.names import CommitteeNames
from graph.live.summaries import SummaryWatches
from graph.term_catalog import TermCatalog
from models.server_keys import server_key

# With NOTIFY (PostgreSQL) or the watermark poll (SQLite) doing the waking, the feed is
# read anyway this often: a lost notification delays a change by this much at most.
SAFETY_POLL_SECONDS = 1.0


@dataclass(slots=True)
class LiveParts:
    hub: LiveHub
    cursors: FeedCursors
    names: CommitteeNames
    access: LiveAccess
    summaries: SummaryWatches
    pusher: Pusher
    rechecks: asyncio.Task[None]


class Live:
    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        terms: TermCatalog,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self._engine = engine
        self._terms = terms
        self._parts: LiveParts | None = None
        self._starting = asyncio.Lock()
        # Set once the worker is told to stop: no subscription starts after that.
        self.stopping = False

    async def parts(self) -> LiveParts:
        """The running parts, started by the first subscriber to ask."""
        if self._parts is None:
            async with self._starting:
                if self._parts is None:
                    # In a context of its own: the worker's tasks started here must not
                    # keep the first subscriber's (its connection, its request).
                    self._parts = await asyncio.create_task(
                        self._start(), name="live-start", context=contextvars.Context()
                    )
        return self._parts

    async def _start(self) -> LiveParts:
        settings = self.settings
        hub = LiveHub(
            self._engine,
            poll_seconds=settings.live_poll_ms / 1000,
            safety_poll_seconds=SAFETY_POLL_SECONDS,
            queue_limit=settings.live_queue_limit,
            replay_limit=settings.live_replay_limit,
        )
        key = await server_key(self._engine, cursors.KEY_NAME)
        await hub.start()
        access = LiveAccess(self.sessions)
        names = CommitteeNames(self.sessions)
        hub.watch_all(access.changes_read)
        hub.watch_all(names.forget_after_tree_changes)
        summaries = SummaryWatches(
            hub, self.sessions, self._terms, settings.live_interval_ms / 1000
        )
        feed_cursors = FeedCursors(key)
        pusher = Pusher(names, feed_cursors)
        pusher.start()
        rechecks = asyncio.create_task(access.recheck_every(RECHECK_SECONDS), name="live-access")
        return LiveParts(hub, feed_cursors, names, access, summaries, pusher, rechecks)

    async def stop(self) -> None:
        """End every subscription (each is told the server is stopping) and stop the parts:
        as soon as the worker is told to stop, so that no event stream holds its shutdown."""
        self.stopping = True
        if self._parts is not None:
            self._parts.rechecks.cancel()
            with suppress(asyncio.CancelledError):
                await self._parts.rechecks
            await self._parts.hub.stop()
            # uvicorn closed the websockets before the app's lifespan ends: nobody to tell.
            await self._parts.pusher.stop()
            self._parts = None
