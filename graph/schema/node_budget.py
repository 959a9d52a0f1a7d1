"""How many objects the queries running in one process may be building at once.

The node limit (graph/schema/limits.py) bounds one query; nothing bounded how many big
queries a worker runs side by side. A worker answers them one step at a time anyway (one
Python thread), so letting eight 2,000-node pages run together finishes none of them
sooner, it only holds eight pages of objects in memory at once. Each query reserves its
worst case from this budget before it executes and gives it back when it is done; a query
that does not fit waits its turn, first come first served, so a big query is not starved
by a stream of small ones. Queries that can return no list (a summary, `{ __typename }`)
reserve nothing and never wait.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class NodeBudget:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("the budget of objects in flight must be at least 1")
        self.capacity = capacity
        self._available = capacity
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def available(self) -> int:
        return self._available

    @asynccontextmanager
    async def reserve(self, nodes: int) -> AsyncIterator[None]:
        # A query bigger than the whole budget (allowed when the budget is set below the
        # node limit) runs alone rather than never.
        nodes = min(nodes, self.capacity)
        if nodes <= 0:
            yield
            return
        await self._acquire(nodes)
        try:
            yield
        finally:
            self._release(nodes)

    async def _acquire(self, nodes: int) -> None:
        if not self._waiting and nodes <= self._available:
            self._available -= nodes
            return
        turn: tuple[int, asyncio.Future[None]] = (
            nodes,
            asyncio.get_running_loop().create_future(),
        )
        self._waiting.append(turn)
        try:
            await turn[1]
        except asyncio.CancelledError:
            # The client went away while waiting. If its turn had already come, give the
            # reservation back; otherwise leave the queue, which may let the next one in.
            if turn[1].done() and not turn[1].cancelled():
                self._release(nodes)
            else:
                if turn in self._waiting:
                    self._waiting.remove(turn)
                self._admit()
            raise

    def _release(self, nodes: int) -> None:
        self._available += nodes
        self._admit()

    def _admit(self) -> None:
        while self._waiting and self._waiting[0][0] <= self._available:
            nodes, future = self._waiting.popleft()
            if future.cancelled():
                continue
            self._available -= nodes
            future.set_result(None)
