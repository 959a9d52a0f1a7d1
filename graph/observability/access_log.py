"""One JSON line per HTTP request on the `congress.access` logger, and the GraphQL request
metrics, from one pure ASGI middleware (no BaseHTTPMiddleware: it would buffer and add a
task per request)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import time
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph.authentication import SIGN_IN_STATE_KEY, VIEWER_STATE_KEY
from graph.observability.metrics import (
    RequestRecord,
    count_graphql_request,
    count_refusal,
    current_request,
)
from graph.request_ids import REQUEST_ID_STATE_KEY

ACCESS_LOGGER_NAME = "congress.access"
access_logger = logging.getLogger(ACCESS_LOGGER_NAME)
# Code that knows a request's cost may also put it here (request.state.query_cost); it wins
# over what `observe_cost` noted.
COST_STATE_KEY = "query_cost"
GRAPHQL_PATH = "/graphql"
ANONYMOUS_OPERATION = "(anonymous)"
UNKNOWN_OPERATION = "(unknown)"
INVALID_OPERATION = "(invalid)"
BATCH_OPERATION = "(batch)"
# Who is not signed in may name their operations anything: they share one series, so
# that they cannot fill the 200 places for operation names (the log keeps the name).
UNAUTHENTICATED_OPERATION = "(unauthenticated)"
# nginx's code for "the client closed the connection before the answer": nothing was sent.
CLIENT_CLOSED_REQUEST = 499
_OPERATION_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")
# The keyword and name of a document's first operation, once what may come before it
# (spaces, commas, comments) is skipped by `_first_operation`: one regular expression for
# both would backtrack without end on a run of `#`.
_OPERATION_KEYWORD_AND_NAME = re.compile(
    r"(?:query|mutation|subscription)[ \t\r\n,]+([_A-Za-z][_0-9A-Za-z]*)"
)
_IGNORED_BEFORE_OPERATION = frozenset(" \t\r\n,\ufeff")


def _first_operation(document: str) -> str | None:
    """The name of the document's first operation, in one pass (cheaper than parsing;
    strawberry parses it anyway)."""
    position, length = 0, len(document)
    while position < length:
        character = document[position]
        if character in _IGNORED_BEFORE_OPERATION:
            position += 1
        elif character == "#":
            line_end = document.find("\n", position)
            position = length if line_end < 0 else line_end + 1
        else:
            break
    found = _OPERATION_KEYWORD_AND_NAME.match(document, position)
    return None if found is None else found.group(1)


class AccessLogMiddleware:
    """Times each request, logs it once, and counts GraphQL requests by operation and outcome.

    Put it just inside RequestIdMiddleware and outside whatever may refuse a request (limits,
    authentication), so refusals are logged and counted too.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        is_graphql = scope["path"] == GRAPHQL_PATH and (
            scope["method"] == "POST" or bool(scope.get("query_string"))
        )
        body: list[bytes] = []
        status: int | None = None
        record = RequestRecord()
        reset_token = current_request.set(record)

        async def receive_keeping_body() -> Message:
            # The operation name is in the body; keep the chunks the app reads (it bounds them).
            message = await receive()
            if message["type"] == "http.request" and message.get("body"):
                body.append(message["body"])
            return message

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        # With no response started, an exception on its way gets 500 from the server's error
        # handler, and a cancelled request (the client went away) gets nothing.
        unanswered = 500
        try:
            await self._app(
                scope,
                receive_keeping_body if is_graphql and scope["method"] == "POST" else receive,
                send_noting_status,
            )
        except asyncio.CancelledError:
            unanswered = CLIENT_CLOSED_REQUEST
            raise
        finally:
            current_request.reset(reset_token)
            _report(
                scope,
                record,
                status=unanswered if status is None else status,
                duration_seconds=time.perf_counter() - started,
                operation=operation_name(scope, b"".join(body)) if is_graphql else None,
            )


def _report(
    scope: Scope,
    record: RequestRecord,
    *,
    status: int,
    duration_seconds: float,
    operation: str | None,
) -> None:
    """Count a finished GraphQL request and write the request's access line."""
    outcome = None
    state: dict[str, Any] = scope.get("state", {})
    viewer = state.get(VIEWER_STATE_KEY)
    sign_in = state.get(SIGN_IN_STATE_KEY)
    # Who: the user once read, else a bearer token's subject (a request that reads no data
    # is let in on its credential alone; a session cookie's subject is not known then).
    subject = getattr(viewer, "subject", None) or getattr(sign_in, "subject", None)
    if operation is not None:
        if status == 401 and record.refusal is None:
            # Authentication refuses without calling count_refusal, so it is counted here
            # (and the record set directly: the context variable is reset by now).
            count_refusal("unauthenticated")
            record.refusal = "unauthenticated"
        outcome = record.outcome(status)
        signed_in = sign_in is not None and status != 401
        label = operation if signed_in else UNAUTHENTICATED_OPERATION
        count_graphql_request(label, outcome, duration_seconds)
    if not access_logger.isEnabledFor(logging.INFO):
        return
    line = {
        "request_id": state.get(REQUEST_ID_STATE_KEY),
        "method": scope["method"],
        "path": scope["path"],
        "status": status,
        "duration_ms": round(duration_seconds * 1000, 2),
        "subject": subject,
        "operation": operation,
        "outcome": outcome,
        "cost": state.get(COST_STATE_KEY, record.cost),
    }
    # default=str: a line that cannot fail, whatever other code put in the state.
    access_logger.info(json.dumps(line, ensure_ascii=False, default=str))


def operation_name(scope: Scope, body: bytes) -> str:
    """The GraphQL operation a request names: `operationName`, else the document's first
    operation; a parenthesised placeholder when there is none or it is not a GraphQL name."""
    name: object = None
    document: object = None
    if scope["method"] == "GET":
        parameters = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        name = next(iter(parameters.get("operationName", [])), None)
        document = next(iter(parameters.get("query", [])), None)
    else:
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):  # not UTF-8, not JSON, cut off, nested too deep
            return UNKNOWN_OPERATION
        if isinstance(payload, list):
            return BATCH_OPERATION
        if not isinstance(payload, dict):
            return UNKNOWN_OPERATION
        name = payload.get("operationName")
        document = payload.get("query")
    if isinstance(name, str) and name:
        return name if _OPERATION_NAME.fullmatch(name) else INVALID_OPERATION
    if isinstance(document, str):
        first = _first_operation(document)
        if first is not None:
            return first if _OPERATION_NAME.fullmatch(first) else INVALID_OPERATION
    return ANONYMOUS_OPERATION


def enable_access_log() -> None:
    """Send the access lines to stdout, one JSON object a line, in a serving worker.

    uvicorn configures only its own loggers; without this the lines (INFO) would be dropped.
    Not propagated, so a root handler configured later does not print them twice.
    """
    if access_logger.handlers:
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_logger.addHandler(handler)
    access_logger.setLevel(logging.INFO)
    access_logger.propagate = False
