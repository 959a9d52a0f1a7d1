"""uvicorn's httptools protocol with a bound on a request's header bytes.

uvicorn and httptools keep reading a request's headers for as long as they come: a 10 MB
header was read whole and handed to the app. Here the bytes of a request's line and
headers are counted as they arrive, and past CONGRESS_MAX_HEADER_BYTES the connection gets
`431 Request Header Fields Too Large` (JSON, with the one code vocabulary); what more it
sends is dropped unread, and it is closed. The read that ends the headers is not counted
(it may hold a body), so what the server holds is at most the limit plus one read; the
size itself is checked exactly once the headers are complete, and a request over it is
answered 431 by a refusing app in place of ours, as uvicorn refuses past its own
concurrency limit. `congress serve` runs every worker with it.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from config import Settings
from graph.request_bounds import refusal_body, send_refusal

MAX_HEADER_BYTES_VARIABLE = "CONGRESS_MAX_HEADER_BYTES"
# After a refusal the connection is read and dropped this long before it is closed, so that
# a client still sending its headers gets to read the 431 (closing at once would reset the
# connection under it and lose the answer: nginx's lingering close).
LINGER_SECONDS = 2.0


@cache
def max_header_bytes() -> int:
    """The worker's bound, from the environment `congress serve` hands its workers."""
    given = os.environ.get(MAX_HEADER_BYTES_VARIABLE)
    return int(given) if given else Settings.max_header_bytes


def refusal_message(limit: int) -> tuple[str, dict[str, object]]:
    """The 431's message and extensions."""
    return (
        f"The request's headers are over {limit:,} bytes.",
        {"code": "COST_LIMIT", "maxHeaderBytes": limit},
    )


def refusal(limit: int) -> bytes:
    """The whole 431 answer, written to the connection as the headers arrive."""
    body = refusal_body(*refusal_message(limit))
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


class BoundedHeadersProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limit = max_header_bytes()
        self._awaiting_headers = True
        self._header_bytes = 0
        self._over_limit = False
        self._crossed_a_boundary = False

    def data_received(self, data: bytes) -> None:
        if self._over_limit:
            return  # read and dropped
        self._crossed_a_boundary = False
        super().data_received(data)
        # A chunk that neither ended a request's headers nor a request was all request
        # line and headers; one that did is not counted (it may hold a body). So the
        # parser holds at most the limit and one chunk.
        if (
            self._awaiting_headers
            and not self._crossed_a_boundary
            and not self.transport.is_closing()
        ):
            self._header_bytes += len(data)
            if self._header_bytes > self._limit:
                self._over_limit = True
                if not self._answering():
                    self._refuse()

    def _answering(self) -> bool:
        """Whether an earlier request on this connection still waits for its answer (a
        pipelined one): the 431 must not be read as its answer, so it waits its turn."""
        return bool(self.pipeline) or (self.cycle is not None and not self.cycle.response_complete)

    def _refuse(self) -> None:
        self.transport.write(refusal(self._limit))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._over_limit and not self._answering() and not self.transport.is_closing():
            self._refuse()

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._crossed_a_boundary = True
        if self._header_size() <= self._limit:
            super().on_headers_complete()
            return
        # Headers that came whole in one read: uvicorn's own way to refuse a request
        # (as for its concurrency limit) is to answer it with another app.
        app, self.app = self.app, self._refuse_headers
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    def _header_size(self) -> int:
        """The request line's target and the headers, as received (names, values and the
        four bytes of `: ` and CRLF around each)."""
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    async def _refuse_headers(self, _scope: Scope, _receive: Receive, send: Send) -> None:
        await send_refusal(
            send, 431, *refusal_message(self._limit), headers=[(b"connection", b"close")]
        )

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._awaiting_headers = True
        self._crossed_a_boundary = True
        self._header_bytes = 0
