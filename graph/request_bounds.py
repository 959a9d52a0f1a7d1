"""What one request may take from a worker at the HTTP edge, refused before the app runs.

- `BodyLimit`: a body longer than CONGRESS_MAX_BODY_BYTES is answered 413 without being
  read whole: at once when its Content-Length says so, and as soon as the bytes read pass
  the limit otherwise (a chunked body). Reading a 100 MB body cost 6 s of CPU and 870 MiB.
  A body still arriving after the request's time budget is answered 408. It sits outside
  LoadShedding: a request counts as in flight once its body is here, so slow senders
  cannot take every place.
- `LoadShedding`: past CONGRESS_MAX_REQUESTS_IN_FLIGHT requests being answered by this
  worker, a new one gets 503 with `Retry-After` at once instead of a place in a queue
  with no end (under 200 clients, p99 was 4 s while one read alone took 6 ms).
- `TimeBudget`: a GraphQL request still running after CONGRESS_REQUEST_TIMEOUT_SECONDS is
  ended. Its statements stop at the deadline inside SQLite, or at PostgreSQL's
  `statement_timeout` (models/statement_deadline.py), and it answers `COST_LIMIT`; a request that holds writes answers
  `OUTCOME_UNKNOWN` (503) instead, since a write may have committed just before the end:
  repeat it with the same idempotency key.

Both answer JSON with a code from the one vocabulary (DESIGN.md): `COST_LIMIT` for a body
too large, `UNAVAILABLE` for a worker that is full. Health and metrics routes are never
shed, so a busy worker still says how it is.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Collection
from contextvars import ContextVar
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph.database_faults import DatabaseFault, FaultKind
from graph.errors import OUTCOME_UNKNOWN, UNAVAILABLE
from graph.observability.metrics import count_refusal
from models.statement_deadline import (
    DatabaseWaits,
    StatementDeadlinePassed,
    database_waits,
    statement_deadline,
)

# How long a shed client should wait before it tries again, in seconds.
SHED_RETRY_AFTER_SECONDS = 1


def refusal_body(message: str, extensions: dict[str, object]) -> bytes:
    return json.dumps(
        {"errors": [{"message": message, "extensions": extensions}]},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


async def send_refusal(
    send: Send,
    status: int,
    message: str,
    extensions: dict[str, object],
    headers: Collection[tuple[bytes, bytes]] = (),
    content_type: str = "application/json",
) -> None:
    """A whole-request refusal as GraphQL-shaped JSON: `{"errors": [...]}`."""
    body = refusal_body(message, extensions)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_unavailable(send: Send, fault: DatabaseFault, **extensions: object) -> None:
    """503 UNAVAILABLE for a database fault, in its words, with Retry-After (and
    `retryAfterSeconds`) as long as its kind asks."""
    await send_refusal(
        send,
        503,
        fault.message,
        {"code": UNAVAILABLE, "retryAfterSeconds": fault.retry_after_seconds, **extensions},
        headers=[(b"retry-after", str(fault.retry_after_seconds).encode())],
    )


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, read_timeout_seconds: float) -> None:
        self._app = app
        self._max = max_body_bytes
        self._read_timeout = read_timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max:
            await self._refuse(send)
            return
        # Read here, counting, so that no part of the app ever holds more than the limit;
        # then hand the app the body it would have read. Within a time limit: a client
        # sending a byte at a time must not hold a connection and its memory for ever.
        chunks: list[bytes] = []
        received = 0
        try:
            async with asyncio.timeout(self._read_timeout):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        return  # the client went away before its request was whole
                    chunk = message.get("body", b"")
                    received += len(chunk)
                    if received > self._max:
                        await self._refuse(send)
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            count_refusal("body")
            await send_refusal(
                send,
                408,
                f"The request body did not arrive within {self._read_timeout:g} s.",
                {"code": "BAD_REQUEST"},
                headers=[(b"connection", b"close")],
            )
            return
        body: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self._app(scope, _replay([body], then=receive), send)

    async def _refuse(self, send: Send) -> None:
        count_refusal("body")
        await send_refusal(
            send,
            413,
            f"The request body is over {self._max:,} bytes.",
            {"code": "COST_LIMIT", "maxBodyBytes": self._max},
            headers=[(b"connection", b"close")],
        )


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    """A `receive` that hands out `messages`, then (if given) waits on the real one (for
    the client's disconnect while the app answers)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is None:
            return {"type": "http.disconnect"}
        return await then()

    return receive


def is_event_stream(scope: Scope) -> bool:
    """A live subscription over Server-Sent Events: a response that lasts as long as the
    subscriber listens, so neither a request's time budget nor a slot among the requests
    in flight applies to it (its limits are the live ones: subscriptions per user)."""
    for name, value in scope.get("headers", ()):
        if name == b"accept" and b"text/event-stream" in value:
            return True
    return False


class LoadShedding:
    def __init__(
        self, app: ASGIApp, *, max_in_flight: int, never_shed: Collection[str] = ()
    ) -> None:
        self._app = app
        self._max = max_in_flight
        self._never_shed = frozenset(never_shed)
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("path", "") in self._never_shed
            or is_event_stream(scope)
        ):
            await self._app(scope, receive, send)
            return
        if self.in_flight >= self._max:
            count_refusal("shed")
            await send_refusal(
                send,
                503,
                "The server is busy; try again in a moment.",
                {"code": "UNAVAILABLE", "retryAfterSeconds": SHED_RETRY_AFTER_SECONDS},
                headers=[(b"retry-after", str(SHED_RETRY_AFTER_SECONDS).encode())],
            )
            return
        self.in_flight += 1
        try:
            await self._app(scope, receive, send)
        finally:
            self.in_flight -= 1


# How much longer than its budget a request's own error may take to come back (a statement
# stopped at the deadline) before the edge stops waiting for it.
TIME_BUDGET_GRACE_SECONDS = 0.5


@dataclass(slots=True)
class RequestBudget:
    """What the edge knows of the request it is timing: set by the operation's limits."""

    holds_writes: bool = False


current_budget: ContextVar[RequestBudget | None] = ContextVar(
    "congress_request_budget", default=None
)


class TimeBudget:
    def __init__(self, app: ASGIApp, *, seconds: float, paths: Collection[str]) -> None:
        self._app = app
        self._seconds = seconds
        self._paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("path", "") not in self._paths
            or is_event_stream(scope)
        ):
            await self._app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        budget = RequestBudget()
        waits = DatabaseWaits()
        budget_token = current_budget.set(budget)
        waits_token = database_waits.set(waits)
        deadline = time.monotonic() + self._seconds
        deadline_token = statement_deadline.set(deadline)
        try:
            async with asyncio.timeout(self._seconds + TIME_BUDGET_GRACE_SECONDS) as timeout:
                await self._app(scope, receive, send_tracked)
        except (TimeoutError, StatementDeadlinePassed) as error:
            if isinstance(error, TimeoutError) and not timeout.expired():
                raise  # not the budget's: the driver's own timeout (graph/database_faults.py)
            # A statement stopped at the deadline outside GraphQL (reading the user, say)
            # is the same end of the budget as the timeout.
            count_refusal("time")
            if not started:
                await self._refuse(send, budget, waiting_on_database=waits.waited_at(deadline))
        finally:
            statement_deadline.reset(deadline_token)
            database_waits.reset(waits_token)
            current_budget.reset(budget_token)

    async def _refuse(
        self, send: Send, budget: RequestBudget, *, waiting_on_database: bool
    ) -> None:
        if budget.holds_writes:
            await send_refusal(
                send,
                503,
                f"The request ran past its time budget of {self._seconds:g} s and was "
                "stopped; its writes may or may not have been recorded. Repeat them with "
                "the same idempotency keys.",
                {"code": OUTCOME_UNKNOWN, "timeBudgetSeconds": self._seconds},
            )
            return
        if waiting_on_database:
            # Still waiting on the database: it stalled, not the request's own size.
            await send_unavailable(
                send, DatabaseFault(FaultKind.STALLED), timeBudgetSeconds=self._seconds
            )
            return
        await send_refusal(
            send,
            400,
            f"The request ran past its time budget of {self._seconds:g} s and was stopped. "
            "Ask for less.",
            {"code": "COST_LIMIT", "timeBudgetSeconds": self._seconds},
        )
