"""uvicorn's websocket protocol (websockets, sans-io), holding less for an idle socket.

A worker holds thousands of live subscribers' sockets for hours (graph/live/), and
uvicorn's protocol was most of what each one costs (measured with tracemalloc, 500 idle
subscribers): it keeps the handshake's request and response for the socket's life, 4.6 KB
of parsed headers that nothing reads once the socket is accepted. This subclass drops
them after the accept. It relies on the attribute names of the uvicorn release that
constraints.txt pins; the live tests serve through it (tests/live_api.py), so a release
that renames them fails there.

Tried and dropped: a list and a future in place of the protocol's `asyncio.Queue` of
received messages saved 2.4 KB a socket, but the writing worker of `bench/live.py` on
PostgreSQL then spent 22.6 ms of CPU a write instead of 15.1 (three runs each way).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # Read only to accept: not kept for the socket's life.
            del self.request, self.response
