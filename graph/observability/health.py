"""`/health/live` (the process answers) and `/health/ready` (it can serve: the database
answers; optional parts that are down are listed, not fatal)."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from urllib.parse import unquote, urlsplit

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from config import Settings

logger = logging.getLogger("congress.health")
# A probe must answer before the orchestrator's own timeout (often 1-5 s) so that it reads
# our reason, not its timeout; a database slower than this is not ready anyway.
DATABASE_CHECK_SECONDS = 2.0
REDIS_CHECK_SECONDS = 0.5
REDIS_DEFAULT_PORT = 6379
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


def _resp_command(*arguments: str) -> bytes:
    """A command in RESP, Redis' protocol: an array of bulk strings."""
    encoded = [argument.encode() for argument in arguments]
    parts = [f"*{len(encoded)}\r\n".encode()]
    for argument in encoded:
        parts += [f"${len(argument)}\r\n".encode(), argument, b"\r\n"]
    return b"".join(parts)


async def redis_answers(url: str, timeout_seconds: float = REDIS_CHECK_SECONDS) -> bool:
    """Whether Redis at `url` (redis:// or rediss://) answers PING, with AUTH first when the
    URL carries a password. A raw socket: the project has no Redis client to lean on."""
    try:
        parts = urlsplit(url)
        if parts.scheme not in {"redis", "rediss"}:
            return False
        host, port = parts.hostname or "localhost", parts.port or REDIS_DEFAULT_PORT
        commands: list[bytes] = []
        if parts.password is not None:
            credentials = [unquote(parts.password)]
            if parts.username:
                credentials.insert(0, unquote(parts.username))
            commands.append(_resp_command("AUTH", *credentials))
        commands.append(_resp_command("PING"))
        async with asyncio.timeout(timeout_seconds):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=True if parts.scheme == "rediss" else None
            )
            try:
                writer.write(b"".join(commands))
                await writer.drain()
                replies = [await reader.readline() for _command in commands]
            finally:
                writer.close()
                with suppress(OSError):
                    await writer.wait_closed()
    except (OSError, TimeoutError, ValueError):
        return False
    # Every command but PING is AUTH (+OK); PING answers +PONG.
    return all(reply.startswith(b"+OK") for reply in replies[:-1]) and replies[-1].startswith(
        b"+PONG"
    )


def readiness_route(settings: Settings, engine: AsyncEngine) -> Route:
    """`/health/ready`: 200 when the database answers (optional parts may be degraded), else
    503 with the reason. Every probe runs the checks again: they are cheap and bounded."""

    async def ready(_request: Request) -> JSONResponse:
        redis_check = (
            redis_answers(settings.redis_url) if settings.redis_url else _nothing_to_check()
        )
        problem, redis_ok = await asyncio.gather(database_problem(engine), redis_check)
        degraded = [] if redis_ok else ["redis"]
        if problem is not None:
            return JSONResponse(
                {
                    "status": "unavailable",
                    "database": problem,
                    "reason": f"database {problem}",
                    "degraded": degraded,
                },
                status_code=503,
                headers={**_NO_STORE, "retry-after": RETRY_AFTER_SECONDS},
            )
        return JSONResponse(
            {"status": "ready", "database": "ok", "degraded": degraded}, headers=_NO_STORE
        )

    return Route("/health/ready", ready)


async def _nothing_to_check() -> bool:
    return True


def health_routes(settings: Settings, engine: AsyncEngine) -> list[Route]:
    return [Route("/health/live", live), readiness_route(settings, engine)]
