"""A request id on every request: echoed in `X-Request-ID`, logged with every failure, and
shown in place of a masked error so a user's report can be matched to the log line."""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
REQUEST_ID_STATE_KEY = "request_id"
# A caller's id (e.g. from a proxy) is kept only if it is harmless to log and echo.
_ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def assign_request_id(scope: Scope) -> str:
    """The request's id (the caller's, if harmless), kept in the scope's state."""
    offered = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
    request_id = offered if _ACCEPTABLE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
    scope.setdefault("state", {})[REQUEST_ID_STATE_KEY] = request_id
    return request_id


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request_id = assign_request_id(scope)

        async def send_with_request_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        await self._app(scope, receive, send_with_request_id)
