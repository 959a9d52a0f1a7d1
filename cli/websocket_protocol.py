"""uvicorn's websocket protocol (websockets, sans-io), holding less for an idle socket.

A worker holds thousands of live subscribers' sockets for hours (graph/live/), and
uvicorn's protocol was most of what each one costs (measured with tracemalloc, 500 idle
subscribers): it keeps the handshake's request and response for the socket's life, 4.6 KB
of parsed headers that nothing reads once the socket is accepted, and an `asyncio.Queue`
for the messages received (four deques and an event, 2.4 KB) where a list and a future
do. This subclass drops the first after the accept and uses the second. It relies on the
attribute names of the uvicorn release that constraints.txt pins; the live tests serve
through it (tests/live_api.py), so a release that renames them fails there.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class ReceivedMessages:
    """What the protocol asks of its receive queue: `put_nowait`, `get` and `empty`."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = ReceivedMessages()  # type: ignore[assignment]

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # Read only to accept: not kept for the socket's life.
            del self.request, self.response
