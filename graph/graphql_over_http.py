"""The GraphQL-over-HTTP rules strawberry leaves to us: which media type answers, what a
request that failed as a whole is answered with, and JSON that is refused before it is used.

https://graphql.github.io/graphql-over-http/draft/ ; `CongressGraphQL` (graph/app.py) applies
them through strawberry's hooks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError
from starlette.responses import Response

from graph.errors import (
    BAD_REQUEST,
    HTTP_STATUS_OF_CODE,
    INTERNAL_SERVER_ERROR,
    OUTCOME_UNKNOWN,
    UNAVAILABLE,
    error_code,
)

# The codes of a request the database failed, not the client (503 when nothing was answered).
DATABASE_FAILED = frozenset({UNAVAILABLE, OUTCOME_UNKNOWN})

APPLICATION_JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
# What a client that does not say (or says */*) gets: the legacy media type, status 200 for
# every GraphQL response, as clients written before the spec expect.
_COVERS_APPLICATION_JSON = frozenset({APPLICATION_JSON, "application/*", "*/*"})
_QUALITY = re.compile(r";\s*q\s*=\s*([0-9.]+)", re.IGNORECASE)
# Any code point a JSON `\ud800`-style escape can produce that is not half of a pair (a pair
# becomes one code point when decoded). No UTF-8 encoder, database or log accepts one.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def response_media_type(accept: str | None) -> str:
    """`application/graphql-response+json` when the client names it at least as high as
    `application/json`; `application/json` otherwise (no Accept, `*/*`, or other types)."""
    graphql_quality = 0.0
    json_quality = 0.0 if accept else 1.0
    for media_range in (accept or "").split(","):
        media_type = media_range.split(";", 1)[0].strip().lower()
        quality = _quality(media_range)
        if media_type == GRAPHQL_RESPONSE_JSON:
            graphql_quality = max(graphql_quality, quality)
        elif media_type in _COVERS_APPLICATION_JSON:
            json_quality = max(json_quality, quality)
    if graphql_quality > 0 and graphql_quality >= json_quality:
        return GRAPHQL_RESPONSE_JSON
    return APPLICATION_JSON


def _quality(media_range: str) -> float:
    match = _QUALITY.search(media_range)
    if match is None:
        return 1.0
    try:
        return min(max(float(match[1]), 0.0), 1.0)
    except ValueError:
        return 0.0


def decode_request_json(data: str | bytes) -> dict[str, Any] | list[Any]:
    """A JSON text of the request (the POST body; GET's `variables` or `extensions`), decoded,
    or HTTPException 400 with a message of our own: malformed input is the client's mistake,
    and the decoder's text is no part of our answers."""
    try:
        # UTF-8 only (the spec's encoding), and strictly: json.loads would guess UTF-16 or
        # UTF-32 from the first bytes and let encoded surrogates through.
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as error:
        raise HTTPException(400, "The request is not valid UTF-8.") from error
    try:
        value = json.loads(text)
    except RecursionError as error:
        raise HTTPException(400, "The request's JSON is nested too deeply.") from error
    except ValueError as error:
        raise HTTPException(400, "Unable to parse the request as JSON.") from error
    if not isinstance(value, dict | list):
        raise HTTPException(400, "The request's JSON must be an object.")
    if holds_lone_surrogate(value):
        raise HTTPException(
            400, "The request's JSON holds a \\u escape of half a surrogate pair: not text."
        )
    return value


def holds_lone_surrogate(value: object) -> bool:
    """Whether any string (or key) in decoded JSON holds a lone UTF-16 surrogate."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not item.isascii() and _LONE_SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def request_failure_status(data: object, errors: Sequence[GraphQLError] | None) -> int | None:
    """The HTTP status of a result whose request failed as a whole (no field ran: parse,
    validation, variables, a limit), from its errors' codes; None if execution started."""
    if data is not None or not errors or any(error.path is not None for error in errors):
        return None
    return max(
        HTTP_STATUS_OF_CODE.get(error_code(error), HTTP_STATUS_OF_CODE[INTERNAL_SERVER_ERROR])
        for error in errors
    )


def unavailable_retry_after(data: object, errors: Sequence[GraphQLError] | None) -> int | None:
    """When the database failed the whole request (every error UNAVAILABLE or
    OUTCOME_UNKNOWN, no root field with a value): the seconds a client should wait, for
    `Retry-After` with a 503; else None."""
    if not errors or any(error_code(error) not in DATABASE_FAILED for error in errors):
        return None
    if isinstance(data, dict) and any(value is not None for value in data.values()):
        return None
    return max(int((error.extensions or {}).get("retryAfterSeconds", 1)) for error in errors)


def http_refusal(error: HTTPException, media_type: str) -> Response:
    """strawberry's refusal of a malformed HTTP request, as JSON in the negotiated media type
    (strawberry itself answers plain text)."""
    code = "NOT_FOUND" if error.status_code == 404 else BAD_REQUEST
    body = {"errors": [{"message": error.reason, "extensions": {"code": code}}]}
    headers = {"Allow": "GET, POST"} if error.status_code == 405 else None
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=error.status_code,
        headers=headers,
        media_type=_with_charset(media_type),
    )


def _with_charset(media_type: str) -> str:
    return f"{media_type}; charset=utf-8" if media_type == GRAPHQL_RESPONSE_JSON else media_type


def with_code(error: GraphQLError) -> dict[str, Any]:
    """The error as it goes out: what graphql-core formats, `extensions.code` always set."""
    formatted: dict[str, Any] = dict(error.formatted)
    formatted["extensions"] = {"code": error_code(error), **(formatted.get("extensions") or {})}
    return formatted
