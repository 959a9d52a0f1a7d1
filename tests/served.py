"""`congress serve` over the tests' demo, on a database of its own, and a client of it as
the demo's ward reporter (tests of faults and backups)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from bench.progress_server import Server, start_server, stop_server, wait_until_ready
from config import Settings
from config.settings import SQLITE_FILE_NAME
from models import Role
from models.database import create_engine
from permissions.tokens import LocalIssuer
from tests.conftest import _fill_demo, demo_user
from tests.databases import throwaway_database
from tests.tcp_proxy import TcpProxy

REPORTER = demo_user(Role.REPORTER, "X00004")
CELL = "X00004-001"
READ = '{ viewer { subject } committee(code: "X00004-001") { congress { status version } } }'
CONGRESS = "query($c: String!) { committee(code: $c) { id congress { version } } }"
RAISE = """mutation($input: RaiseDifficultyInput!) { raiseDifficulty(input: $input) {
  __typename } }"""
RECORD = """mutation($input: RecordMilestoneInput!) { recordMilestone(input: $input) {
  __typename ... on CongressPayload { recordedVersion } } }"""
# Bounds short enough for a test (README, Configuration).
SHORT_BOUNDS = {
    "CONGRESS_LOCK_WAIT_SECONDS": "1",
    "CONGRESS_POOL_WAIT_SECONDS": "2",
    "CONGRESS_SHUTDOWN_TIMEOUT": "3",
}


@dataclass
class Served:
    server: Server
    issuer: LocalIssuer
    database_url: str

    async def post(self, query: str, **variables: Any) -> httpx.Response:
        token = self.issuer.issue(REPORTER, 600)
        async with httpx.AsyncClient(timeout=30) as client:
            return await client.post(
                self.server.graphql_url,
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {token}"},
            )

    async def record(self, milestone: str) -> httpx.Response:
        found = (await self.post(CONGRESS, c=CELL)).json()["data"]["committee"]
        return await self.post(
            RECORD,
            input={
                "committeeId": found["id"],
                "milestone": milestone,
                "status": "IN_PROGRESS",
                "occurredOn": "2026-11-30",
                "expectedVersion": found["congress"]["version"],
                "idempotencyKey": str(uuid.uuid4()),
            },
        )

    async def raise_difficulty(
        self, committee_id: str, title: str, description: str = ""
    ) -> httpx.Response:
        """Raise a difficulty titled `title` (category OTHER), with a new idempotency key."""
        return await self.post(
            RAISE,
            input={
                "committeeId": committee_id,
                "title": title,
                "description": description,
                "category": "OTHER",
                "idempotencyKey": str(uuid.uuid4()),
            },
        )

    def log(self) -> str:
        return self.server.log_path.read_text(encoding="utf-8", errors="replace")


@asynccontextmanager
async def serving(
    backend: str,
    directory: Path,
    *,
    proxy: TcpProxy | None = None,
    environment: dict[str, str] | None = None,
) -> AsyncIterator[Served]:
    """The tests' demo on a new database, served; through `proxy` when given (PostgreSQL).
    `backend` "sqlite-default" is SQLite at the data directory's default place."""
    if backend == "sqlite-default":
        async with _serving_url(
            f"sqlite+aiosqlite:///{(directory / SQLITE_FILE_NAME).resolve()}",
            directory,
            proxy,
            environment,
        ) as served:
            yield served
        return
    async with (
        throwaway_database(backend, directory) as url,
        _serving_url(url, directory, proxy, environment) as served,
    ):
        yield served


@asynccontextmanager
async def _serving_url(
    url: str,
    directory: Path,
    proxy: TcpProxy | None,
    environment: dict[str, str] | None,
) -> AsyncIterator[Served]:
    engine = create_engine(url)
    await _fill_demo(engine)
    await engine.dispose()
    served_url = url
    if proxy is not None:
        served_url = make_url(url).set(port=proxy.port).render_as_string(hide_password=False)
    server = start_server(
        served_url, directory, environment={**SHORT_BOUNDS, **(environment or {})}
    )
    try:
        await wait_until_ready(server)
        issuer = LocalIssuer.load_or_create(Settings(data_dir=directory).signing_key_path)
        yield Served(server, issuer, url)
    finally:
        stop_server(server)
