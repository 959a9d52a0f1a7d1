"""A TCP proxy the tests control, between the server and PostgreSQL: it forwards bytes both
ways until told to cut every connection and refuse new ones (the database gone, as a
restart or a broken network looks to the server), then to let them through again; or to
do so just after the next COMMIT has gone through to the database, before its answer
comes back (a write whose outcome its client cannot know); or to stall: connections stay
open and nothing goes through either way until let through (a database or a network that
stops answering without closing anything)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

CHUNK_BYTES = 65_536


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.refusing = False
        self._cut_after: bytes | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.cut()
        self._flowing.set()  # what was held goes nowhere now: the pipes end
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        """Every connection reset at once, and new ones closed as they arrive."""
        self.refusing = True
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    def let_through(self) -> None:
        self.refusing = False
        self._flowing.set()

    def stall(self) -> None:
        """Hold every byte, both ways, on every connection old and new, until let through."""
        self._flowing.clear()

    def cut_after(self, marker: bytes) -> None:
        """Cut everything once bytes holding `marker` have been sent on to the database."""
        self._cut_after = marker

    async def _accept(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        if self.refusing:
            client.transport.abort()
            return
        try:
            server_reader, server = await asyncio.open_connection(*self._target)
        except OSError:
            client.transport.abort()
            return
        self._open.update((client, server))
        await asyncio.gather(
            self._pipe(client_reader, server, upstream=True),
            self._pipe(server_reader, client, upstream=False),
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, upstream: bool
    ) -> None:
        with suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await reader.read(CHUNK_BYTES):
                await self._flowing.wait()
                if self.refusing:
                    break
                writer.write(chunk)
                await writer.drain()
                if upstream and self._cut_after is not None and self._cut_after in chunk:
                    # Nothing more comes back (its answer included); the database has a
                    # moment to commit, then every connection goes.
                    self._cut_after = None
                    self.refusing = True
                    await asyncio.sleep(0.3)
                    self.cut()
                    break
        self._open.discard(writer)
        writer.transport.abort()


@asynccontextmanager
async def tcp_proxy(target_host: str, target_port: int) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(target_host, target_port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()
