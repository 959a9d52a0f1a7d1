"""`/health/live` (the process answers) and `/health/ready` (it can serve: the database
answers; optional parts that are down are listed, not fatal)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

if TYPE_CHECKING:
    from graph.rate_limits.buckets import Buckets

logger = logging.getLogger("congress.health")
# A probe must answer before the orchestrator's own timeout (often 1-5 s) so that it reads
# our reason, not its timeout; a database slower than this is not ready anyway.
DATABASE_CHECK_SECONDS = 2.0
REDIS_CHECK_SECONDS = 0.5
# As for UNAVAILABLE elsewhere (DESIGN.md, Errors): 503 with a hint of when to ask again.
RETRY_AFTER_SECONDS = "5"
_NO_STORE = {"cache-control": "no-store"}


async def live(_request: Request) -> JSONResponse:
    """The process runs its event loop; nothing else is checked (no database)."""
    return JSONResponse({"status": "live"}, headers=_NO_STORE)


async def database_problem(engine: AsyncEngine) -> str | None:
    """None when the database answers a trivial statement in time; else why not, in words
    safe to show (the driver's text goes to the log only)."""
    try:
        async with asyncio.timeout(DATABASE_CHECK_SECONDS):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except TimeoutError:
        logger.warning("readiness: the database did not answer in %s s", DATABASE_CHECK_SECONDS)
        return "timeout"
    except Exception:
        # Whatever the driver raises (refused, unknown host, bad file): not ready, and why.
        logger.warning("readiness: the database is unreachable", exc_info=True)
        return "unreachable"
    return None


async def redis_problem(buckets: Buckets) -> bool:
    """Whether Redis is configured and does not answer PING in time."""
    if not buckets.configured_shared:
        return False
    try:
        async with asyncio.timeout(REDIS_CHECK_SECONDS):
            return not await buckets.redis_answers()
    except TimeoutError:
        return True


def readiness_route(engine: AsyncEngine, buckets: Buckets) -> Route:
    """`/health/ready`: 200 when the database answers (optional parts may be degraded), else
    503 with the reason. Every probe runs the checks again: they are cheap and bounded.
    `rateLimits` says whether this worker's rate limits are shared through Redis now or
    its own (no Redis configured, or Redis down)."""

    async def ready(_request: Request) -> JSONResponse:
        problem, redis_down = await asyncio.gather(database_problem(engine), redis_problem(buckets))
        state = {
            "degraded": ["redis"] if redis_down else [],
            "rateLimits": "shared" if buckets.shared and not redis_down else "per-worker",
        }
        if problem is not None:
            return JSONResponse(
                {
                    "status": "unavailable",
                    "database": problem,
                    "reason": f"database {problem}",
                    **state,
                },
                status_code=503,
                headers={**_NO_STORE, "retry-after": RETRY_AFTER_SECONDS},
            )
        return JSONResponse({"status": "ready", "database": "ok", **state}, headers=_NO_STORE)

    return Route("/health/ready", ready)


def health_routes(engine: AsyncEngine, buckets: Buckets) -> list[Route]:
    return [Route("/health/live", live), readiness_route(engine, buckets)]
