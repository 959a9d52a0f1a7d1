"""The HTTP edge refuses what would take a worker from everyone else: a body over the
limit (413, before it is read whole), a request past the worker's capacity (503 with
Retry-After at once) and one past its time budget (its statements stopped), all as JSON
with a code."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.types import Receive, Scope, Send

from bench.progress_server import start_server, stop_server, wait_until_ready
from graph.request_bounds import (
    SHED_RETRY_AFTER_SECONDS,
    BodyLimit,
    LoadShedding,
    TimeBudget,
    current_budget,
)
from models import Role
from models.database import create_engine
from models.demo import CENTRAL_CODE
from models.statement_deadline import StatementDeadlinePassed, statement_deadline
from tests.api import app_client
from tests.conftest import DemoWorld, demo_user
from tests.databases import copied_database, throwaway_database

CENTRAL_VIEWER = demo_user(Role.VIEWER, CENTRAL_CODE)
SMALL_LIMIT = 2_000


async def test_a_body_over_the_limit_is_refused_with_413(demo_world: DemoWorld) -> None:
    settings = demo_world.settings.with_(max_body_bytes=SMALL_LIMIT)
    token = demo_world.client.token_for(CENTRAL_VIEWER)
    padding = " " * SMALL_LIMIT
    async with app_client(settings, demo_world.engine) as http:
        response = await http.post(
            "/graphql",
            content=f'{{"query": "{{ __typename }}"{padding}}}',
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert response.status_code == 413
        assert response.json() == {
            "errors": [
                {
                    "message": f"The request body is over {SMALL_LIMIT:,} bytes.",
                    "extensions": {"code": "COST_LIMIT", "maxBodyBytes": SMALL_LIMIT},
                }
            ]
        }
        assert response.headers["x-request-id"]
        # Within the limit, the same request is answered.
        small = await http.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert small.json() == {"data": {"__typename": "Query"}}


async def test_a_chunked_body_is_refused_once_it_passes_the_limit(demo_world: DemoWorld) -> None:
    """No Content-Length to judge by: the bytes are counted as they come, and reading
    stops at the limit."""
    settings = demo_world.settings.with_(max_body_bytes=SMALL_LIMIT)
    sent: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for number in range(1_000):
            sent.append(number)
            yield b" " * 500

    async with app_client(settings, demo_world.engine) as http:
        response = await http.post("/graphql", content=endless())
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "COST_LIMIT"
    assert len(sent) <= SMALL_LIMIT // 500 + 2


class Held:
    """An app whose requests wait until released: requests in flight, on demand."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = 0
        self._changed = asyncio.Condition()

    async def until_started(self, count: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.started >= count)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with self._changed:
            self.started += 1
            self._changed.notify_all()
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})


async def test_past_the_requests_in_flight_new_ones_get_503_at_once() -> None:
    held = Held()
    shedding = LoadShedding(held, max_in_flight=2, never_shed=("/health/live",))
    transport = httpx.ASGITransport(app=shedding)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        first = asyncio.create_task(http.post("/graphql"))
        second = asyncio.create_task(http.post("/graphql"))
        await held.until_started(2)
        async with asyncio.timeout(5):
            shed = await http.post("/graphql")
        assert shed.status_code == 503
        assert shed.headers["retry-after"] == str(SHED_RETRY_AFTER_SECONDS)
        assert shed.json()["errors"][0]["extensions"] == {
            "code": "UNAVAILABLE",
            "retryAfterSeconds": SHED_RETRY_AFTER_SECONDS,
        }
        # Health is never shed: it waits like any request here, but it is let in.
        health = asyncio.create_task(http.get("/health/live"))
        await held.until_started(3)
        held.release.set()
        assert [(await task).status_code for task in (first, second, health)] == [200] * 3
        assert shedding.in_flight == 0
        assert (await http.post("/graphql")).status_code == 200


async def test_the_body_limit_passes_what_the_app_would_have_read() -> None:
    """The app reads the same body, byte for byte, from the limit's buffer."""
    seen: list[bytes] = []

    async def echo(scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        seen.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    limited = BodyLimit(echo, max_body_bytes=SMALL_LIMIT, read_timeout_seconds=5)
    transport = httpx.ASGITransport(app=limited)

    async def parts() -> AsyncIterator[bytes]:
        for part in (b"abc", b"", b"def" * 100):
            yield part

    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.post("/x", content=parts())
    assert response.content == seen[0] == b"abc" + b"def" * 100


class Stuck:
    """An app that never answers: a request that would run forever."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.Event().wait()


async def budgeted(holds_writes: bool) -> httpx.Response:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        budget = current_budget.get()
        assert budget is not None
        budget.holds_writes = holds_writes
        await Stuck()(scope, receive, send)

    timed = TimeBudget(app, seconds=0.2, paths=("/graphql",))
    transport = httpx.ASGITransport(app=timed)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        async with asyncio.timeout(5):
            return await http.post("/graphql")


async def test_a_read_past_its_time_budget_is_ended_with_cost_limit() -> None:
    response = await budgeted(holds_writes=False)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {
        "code": "COST_LIMIT",
        "timeBudgetSeconds": 0.2,
    }


async def test_a_write_past_its_time_budget_may_have_been_recorded() -> None:
    response = await budgeted(holds_writes=True)
    assert response.status_code == 503
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "OUTCOME_UNKNOWN"
    assert "same idempotency keys" in error["message"]


ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


async def test_a_sqlite_statement_stops_at_its_request_s_deadline(tmp_path: Path) -> None:
    """The statement itself stops inside SQLite: the connection's thread is free again."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'deadline.db'}")
    try:
        async with engine.connect() as connection:
            token = statement_deadline.set(time.monotonic() + 0.1)
            try:
                started = time.monotonic()
                with pytest.raises(StatementDeadlinePassed):
                    await connection.execute(text(ENDLESS))
                assert time.monotonic() - started < 5
            finally:
                statement_deadline.reset(token)
            # The same connection, no deadline: statements run to the end again.
            assert (await connection.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()


async def test_postgresql_ends_a_statement_past_the_serving_engine_s_timeout(
    tmp_path: Path,
) -> None:
    async with throwaway_database("postgresql", tmp_path) as url:
        engine = create_engine(url, statement_timeout_seconds=0.2)
        try:
            async with engine.connect() as connection:
                with pytest.raises(DBAPIError, match="statement timeout"):
                    await connection.execute(text("SELECT pg_sleep(5)"))
        finally:
            await engine.dispose()


async def test_a_body_that_does_not_arrive_in_time_is_answered_408() -> None:
    """A client sending a byte now and then holds no place for ever."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("the app must not be called")

    limited = BodyLimit(app, max_body_bytes=SMALL_LIMIT, read_timeout_seconds=0.2)
    transport = httpx.ASGITransport(app=limited)

    async def trickle() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x"
            await asyncio.sleep(0.1)

    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        async with asyncio.timeout(5):
            response = await http.post("/graphql", content=trickle())
    assert response.status_code == 408
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}


def raw_exchange(port: int, *requests: bytes) -> bytes:
    """Send `requests` on one connection and read until the server closes it or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        try:
            for request in requests:
                for start in range(0, len(request), 65536):
                    connection.sendall(request[start : start + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: its answer is still there to read
        answer = b""
        try:
            while chunk := connection.recv(65536):
                answer += chunk
        except TimeoutError:
            pass
    return answer


def one_after_the_other_in_pieces(port: int, requests: list[bytes]) -> list[bytes]:
    """Send each request in 1,000-byte pieces a few ms apart and read its answer before the
    next, on one connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        answers = []
        for request in requests:
            for start in range(0, len(request), 1_000):
                connection.sendall(request[start : start + 1_000])
                time.sleep(0.005)
            answers.append(read_one_answer(connection))
    return answers


def read_one_answer(connection: socket.socket) -> bytes:
    """One HTTP answer: its head, then as many bytes as its Content-Length says."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += connection.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])  # type: ignore[index]
    while len(body) < length:
        body += connection.recv(65536)
    return head + b"\r\n\r\n" + body


def raw_post(header_bytes: int, body: bytes = b"{}", *, close: bool = False) -> bytes:
    return (
        b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        + b"X-Padding: " + b"a" * header_bytes + b"\r\n"
        + b"Content-Length: " + str(len(body)).encode() + b"\r\n"
        + (b"Connection: close\r\n" if close else b"")
        + b"\r\n" + body
    )  # fmt: skip


async def test_headers_over_the_limit_are_refused_with_431_as_they_arrive(
    backend: str, demo_template: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`congress serve` bounds a request's line and headers (cli/bounded_headers.py)."""
    monkeypatch.setenv("CONGRESS_MAX_HEADER_BYTES", "8000")
    async with copied_database(backend, demo_template, tmp_path) as url:
        server = start_server(url, tmp_path)
        try:
            await wait_until_ready(server)
            port = int(server.base_url.rsplit(":", 1)[1])
            started = time.monotonic()
            refused = raw_exchange(port, raw_post(10_000_000))
            refused_in = time.monotonic() - started
            # 12,000 bytes of headers, whole in one read: refused once they are complete.
            in_one_read = raw_exchange(port, raw_post(12_000))
            # Headers under the limit with a body far over it in the same packets, and two
            # requests on one connection each under the limit: not refused.
            with_body = raw_exchange(port, raw_post(100, b"x" * 500_000, close=True))
            kept_alive = raw_exchange(port, raw_post(6_000), raw_post(6_000, close=True))
            # One connection, requests one after the other, each one's headers (6,000
            # bytes) arriving in pieces: each request's count starts again.
            answers = one_after_the_other_in_pieces(
                port, [raw_post(6_000), raw_post(6_000), raw_post(6_000, close=True)]
            )
        finally:
            stop_server(server)
    head, _, body = refused.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 ")
    assert json.loads(body)["errors"][0]["extensions"] == {
        "code": "COST_LIMIT",
        "maxHeaderBytes": 8000,
    }
    # Refused as the bytes came, not after reading 10 MB.
    assert refused_in < 2.0
    head, _, body = in_one_read.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 ")
    assert json.loads(body)["errors"][0]["extensions"]["maxHeaderBytes"] == 8000
    assert with_body.startswith(b"HTTP/1.1 401 ")
    assert kept_alive.count(b"HTTP/1.1 401 ") == 2
    assert [answer.split(b" ", 2)[1] for answer in answers] == [b"401"] * 3
