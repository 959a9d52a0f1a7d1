"""`/metrics`: this worker's metrics in Prometheus' text format, with the database pool read
at scrape time. Open unless CONGRESS_METRICS_TOKEN is set; then only that bearer token."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from config import Settings
from graph.observability.exposition import CONTENT_TYPE, gauge_exposition, render
from graph.observability.metrics import REGISTRY

if TYPE_CHECKING:
    from graph.rate_limits.buckets import Buckets

REALM = "congress-monitor-metrics"


def pool_lines(engine: AsyncEngine) -> Iterator[str]:
    """The engine's connection pool now. Only a queue pool has sizes to tell (an in-memory
    SQLite database has one static connection, so nothing is reported for it)."""
    pool = engine.sync_engine.pool
    if not isinstance(pool, QueuePool):
        return
    yield from gauge_exposition(
        "congress_db_pool_size", "Connections the pool keeps open.", pool.size()
    )
    yield from gauge_exposition(
        "congress_db_pool_checked_out",
        "Connections lent to requests now; past the size, requests open overflow ones.",
        pool.checkedout(),
    )
    yield from gauge_exposition(
        "congress_db_pool_idle", "Open connections waiting in the pool now.", pool.checkedin()
    )
    yield from gauge_exposition(
        "congress_db_pool_overflow",
        "Connections open beyond the pool size now.",
        # SQLAlchemy counts from -size while the pool fills; only the excess is overflow.
        max(pool.overflow(), 0),
    )


def rate_limit_lines(buckets: Buckets) -> Iterator[str]:
    yield from gauge_exposition(
        "congress_rate_limits_shared",
        "1 while this worker's rate limits are shared through Redis; 0 while they are its own "
        "(no CONGRESS_REDIS_URL, or Redis down).",
        1 if buckets.shared else 0,
    )


def bearer_token_matches(authorization: str | None, expected: str) -> bool:
    scheme, _, offered = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    # Constant time, so the token cannot be guessed a character at a time from timings.
    return hmac.compare_digest(offered.strip().encode(), expected.encode())


def metrics_route(settings: Settings, engine: AsyncEngine, buckets: Buckets) -> Route:
    token = settings.metrics_token

    async def metrics(request: Request) -> Response:
        if token is not None and not bearer_token_matches(
            request.headers.get("authorization"), token
        ):
            return JSONResponse(
                {
                    "errors": [
                        {
                            "message": "Unauthenticated: /metrics needs the metrics token.",
                            "extensions": {"code": "UNAUTHENTICATED"},
                        }
                    ]
                },
                status_code=401,
                headers={"www-authenticate": f'Bearer realm="{REALM}"'},
            )
        body = render([*REGISTRY.lines(), *pool_lines(engine), *rate_limit_lines(buckets)])
        return Response(body, media_type=CONTENT_TYPE, headers={"cache-control": "no-store"})

    return Route("/metrics", metrics)
