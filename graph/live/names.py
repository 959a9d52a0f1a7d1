"""Committee names for live messages, cached per worker.

Every subscriber shown a change at a committee needs its code and name. They are read once
per worker (one statement for every committee a batch of changes names that is not cached
yet) and kept until the tree changes, so the cost of naming a change does not grow with the
number of subscribers who see it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from graph.live.hub import FeedChange
from models import Committee
from models.change_feed import ChangeKind

# Committees kept at most; past it the cache starts afresh (a national day of changes
# names tens of thousands of committees; each entry is a few hundred bytes).
MAX_CACHED = 100_000


@dataclass(frozen=True, slots=True)
class CommitteeName:
    id: int
    code: str
    name: str


class CommitteeNames:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._cached: dict[int, CommitteeName] = {}
        self._reading = asyncio.Lock()

    async def of(self, committee_ids: Collection[int]) -> dict[int, CommitteeName]:
        # Taken now: the cache may be emptied while this waits for the read below.
        found = {i: self._cached[i] for i in committee_ids if i in self._cached}
        missing = {i for i in committee_ids if i not in found}
        if missing:
            async with self._reading:  # concurrent subscribers wait for one read
                found.update({i: self._cached[i] for i in missing if i in self._cached})
                missing -= found.keys()
                if missing:
                    found.update(await self._read(sorted(missing)))
        return found

    def forget_after_tree_changes(self, changes: Sequence[FeedChange]) -> None:
        """The hub's batch watcher: a committee renamed, merged or moved is read afresh."""
        if any(change.kind == ChangeKind.TREE for change in changes):
            self._cached.clear()

    async def _read(self, committee_ids: Sequence[int]) -> dict[int, CommitteeName]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(Committee.id, Committee.code, Committee.name).where(
                    Committee.id.in_(committee_ids)
                )
            )
            read = {row.id: CommitteeName(row.id, row.code, row.name) for row in rows}
        if len(self._cached) + len(read) > MAX_CACHED:
            self._cached.clear()
        self._cached.update(read)
        return read
