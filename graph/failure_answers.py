"""The last word on a request that raised before its answer began: JSON in the
GraphQL-over-HTTP shape, never Starlette's plain-text 500, and with `X-Request-ID` (this
runs inside RequestIdMiddleware).

A failure of the database itself (graph/database_faults.py: unreachable, a lock or the pool
waited on past its bound, a full disk) is `UNAVAILABLE`, HTTP 503 with `Retry-After`,
written once per incident to the log. Anything else is a bug: `INTERNAL_SERVER_ERROR`, 500,
logged with its traceback and the request id the answer quotes. A request the server ends
as it shuts down (still running past CONGRESS_SHUTDOWN_TIMEOUT) is answered before it goes:
`OUTCOME_UNKNOWN` where it may have written (repeat it with the same idempotency key),
`UNAVAILABLE` where it could not (GET, HEAD).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph.database_faults import note_fault
from graph.errors import INTERNAL_SERVER_ERROR, OUTCOME_UNKNOWN, UNAVAILABLE
from graph.request_bounds import send_refusal, send_unavailable
from graph.request_ids import REQUEST_ID_STATE_KEY

logger = logging.getLogger("congress.errors")
# When to try again after a shutdown: another worker or the restarted one answers by then.
STOPPED_RETRY_AFTER_SECONDS = 5


class FailureAnswers:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False

        async def noting_the_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, receive, noting_the_start)
        except asyncio.CancelledError:
            # The server is ending the request (its shutdown's bound passed): say so first.
            if not started:
                with suppress(Exception):
                    await _send_stopped(scope, send)
            raise
        except Exception as error:
            if started:
                raise  # the answer is on its way: only the server can end it now
            request_id = scope.get("state", {}).get(REQUEST_ID_STATE_KEY)
            fault = note_fault(error, request_id)
            if fault is not None:
                await send_unavailable(send, fault, requestId=request_id)
                return
            logger.exception("request %s failed", request_id)
            await send_refusal(
                send,
                500,
                f"Unexpected error. Quote request id {request_id} when reporting it.",
                {"code": INTERNAL_SERVER_ERROR, "requestId": request_id},
            )


async def _send_stopped(scope: Scope, send: Send) -> None:
    request_id = scope.get("state", {}).get(REQUEST_ID_STATE_KEY)
    may_have_written = scope["method"] not in ("GET", "HEAD")
    await send_refusal(
        send,
        503,
        "The server stopped before it could answer. "
        + (
            "Repeat the request; a write with the same idempotencyKey."
            if may_have_written
            else "Try again."
        ),
        {
            "code": OUTCOME_UNKNOWN if may_have_written else UNAVAILABLE,
            "retryAfterSeconds": STOPPED_RETRY_AFTER_SECONDS,
            "requestId": request_id,
        },
        headers=[(b"retry-after", str(STOPPED_RETRY_AFTER_SECONDS).encode())],
    )
