"""Talking to the app's live half as a client would: a real server on a real socket,
graphql-transport-ws over the `websockets` library."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from cli.websocket_protocol import LeanWebSocketProtocol
from config import Settings
from graph.app import create_app
from graph.live.hub import LiveHub
from graph.live.service import Live
from tests.conftest import DemoWorld

# Long enough on a slow machine for a change to travel writer -> feed -> hub -> socket.
ARRIVES_WITHIN_SECONDS = 5.0
# How long a test waits to be sure that nothing comes.
NOTHING_WITHIN_SECONDS = 1.0

PROGRESS_EVENTS = """subscription($under: ID, $after: String, $kinds: [ProgressEventKind!]) {
  progressEvents(under: $under, after: $after, kinds: $kinds) {
    cursor kind recordedAt committee { id code name } congress { status version milestone }
    difficulty { id status handledAt { code } } } }"""
PROGRESS = """subscription($committeeId: ID!) { progress(committeeId: $committeeId) {
  term total inProgress congressesHeld overdue byDepth { depth total inProgress } } }"""


@asynccontextmanager
async def live_server(world: DemoWorld, **settings_changes: Any) -> AsyncIterator[str]:
    """The app on its engine, served by uvicorn in this process on a free port; its
    websocket URL. Live changes travel as in production: feed, wakeup, hub, socket."""
    settings: Settings = world.settings.with_(**settings_changes)
    app = create_app(settings, engine=world.engine)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        ws_per_message_deflate=False,
        ws=LeanWebSocketProtocol,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            await serving  # raises what stopped it
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"ws://127.0.0.1:{port}/graphql"
    _live_of[url] = app.state.live
    try:
        yield url
    finally:
        del _live_of[url]
        server.should_exit = True
        await serving


_live_of: dict[str, Live] = {}


async def hub_of(url: str) -> LiveHub:
    """The live hub of the server at `url` (started if no subscriber started it yet)."""
    return (await _live_of[url].parts()).hub


async def listening(url: str, count: int) -> None:
    """Wait until the server at `url` has `count` listeners on its feed (subscriptions and
    live summaries that have started listening): a write after this reaches them."""
    hub = await hub_of(url)
    for _ in range(round(ARRIVES_WITHIN_SECONDS / 0.02)):
        if hub.listener_count >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{hub.listener_count} listening, not {count}")


@asynccontextmanager
async def event_stream(
    url: str, token: str | None, query: str, **variables: Any
) -> AsyncIterator[httpx.Response]:
    """A subscription over Server-Sent Events (graphql-sse, distinct connections): the
    streaming response, its body not yet read."""
    headers = {"Accept": "text/event-stream"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with (
        httpx.AsyncClient() as http,
        http.stream(
            "POST",
            url.replace("ws://", "http://"),
            json={"query": query, "variables": variables},
            headers=headers,
        ) as response,
    ):
        yield response


@dataclass
class LiveClient:
    socket: ClientConnection

    async def subscribe(self, operation_id: str, query: str, **variables: Any) -> None:
        await self.socket.send(
            json.dumps(
                {
                    "id": operation_id,
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables},
                }
            )
        )

    async def receive(self, within: float = ARRIVES_WITHIN_SECONDS) -> dict[str, Any]:
        async with asyncio.timeout(within):
            message: dict[str, Any] = json.loads(await self.socket.recv())
        return message

    async def next_data(
        self, operation_id: str, within: float = ARRIVES_WITHIN_SECONDS
    ) -> dict[str, Any]:
        """The next `next` message's data for the operation (pings are answered)."""
        async with asyncio.timeout(within):
            while True:
                message = await self.receive(within)
                if message["type"] == "ping":
                    await self.socket.send(json.dumps({"type": "pong"}))
                    continue
                assert message.get("id") == operation_id, message
                assert message["type"] == "next", message
                assert "errors" not in message["payload"], message
                data: dict[str, Any] = message["payload"]["data"]
                return data

    async def next_data_of_each(self, operation_ids: list[str]) -> dict[str, dict[str, Any]]:
        """One `next` message's data for each operation, in whatever order they come."""
        found: dict[str, dict[str, Any]] = {}
        async with asyncio.timeout(ARRIVES_WITHIN_SECONDS):
            while len(found) < len(operation_ids):
                message = await self.receive()
                assert message["type"] == "next", message
                assert "errors" not in message["payload"], message
                assert message["id"] not in found, message
                found[message["id"]] = message["payload"]["data"]
        return found

    async def complete(self, operation_id: str) -> None:
        await self.socket.send(json.dumps({"id": operation_id, "type": "complete"}))

    async def errors_of(self, operation_id: str) -> list[dict[str, Any]]:
        """The errors the operation ended with (an `error` message, or a `next` carrying
        errors); other operations' `complete` messages are passed over."""
        async with asyncio.timeout(ARRIVES_WITHIN_SECONDS):
            while True:
                message = await self.receive()
                if message.get("id") != operation_id:
                    assert message["type"] == "complete", message
                    continue
                if message["type"] == "error":
                    errors: list[dict[str, Any]] = message["payload"]
                    return errors
                assert message["type"] == "next", message
                assert "errors" in message["payload"], message
                errors = message["payload"]["errors"]
                return errors

    async def nothing_arrives(self, within: float = NOTHING_WITHIN_SECONDS) -> None:
        """No data and no error for `within` seconds (an ended operation's `complete` is
        not news)."""
        try:
            async with asyncio.timeout(within):
                while True:
                    message = await self.socket.recv()
                    if json.loads(message)["type"] != "complete":
                        raise AssertionError(f"expected nothing, got {message!r}")
        except TimeoutError:
            return


@asynccontextmanager
async def signed_in(
    url: str, token: str | None, **connect_options: Any
) -> AsyncIterator[LiveClient]:
    """A connection that sent connection_init with the token and got connection_ack."""
    async with connect(url, subprotocols=["graphql-transport-ws"], **connect_options) as socket:  # type: ignore[list-item]
        payload = {} if token is None else {"Authorization": f"Bearer {token}"}
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        client = LiveClient(socket)
        ack = await client.receive()
        assert ack["type"] == "connection_ack", ack
        yield client


async def refused_with(
    url: str, payload: dict[str, Any], **connect_options: Any
) -> tuple[int, str]:
    """Sign in with `payload`; the close code and reason the server answered with."""
    async with connect(url, subprotocols=["graphql-transport-ws"], **connect_options) as socket:  # type: ignore[list-item]
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        return await closed_with(socket)


async def closed_with(socket: ClientConnection) -> tuple[int, str]:
    """Read until the server closes the socket; its close code and reason."""
    try:
        async with asyncio.timeout(ARRIVES_WITHIN_SECONDS):
            while True:
                await socket.recv()
    except ConnectionClosed as closed:
        frame = closed.rcvd
    if frame is None:
        raise AssertionError("the connection dropped without a close frame")
    return frame.code, frame.reason
