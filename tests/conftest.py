"""Shared fixtures: every test that touches a database runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bench.progress_server import Server, start_server, stop_server, wait_until_ready
from config import Settings
from models import Committee, Role
from models.accounts import add_user
from models.database import create_engine
from models.demo import CENTRAL_CODE, build_demo, demo_user_subject, demo_users
from models.migrate import upgrade_database
from permissions.tokens import LocalIssuer
from tests.api import TOKEN_TTL_SECONDS, GraphQLClient, app_client
from tests.databases import BACKENDS, copied_database, throwaway_database

# Small enough to build in a second, deep enough for every level: centre, province, commune, cell.
DEMO_CELLS_PER_COMMUNE = 2


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def empty_database_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A new database with the schema migrated to head and no rows."""
    async with throwaway_database(backend, tmp_path) as url:
        engine = create_engine(url)
        await upgrade_database(engine)
        await engine.dispose()
        yield url


@pytest.fixture
async def empty_engine(empty_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(empty_database_url)
    yield engine
    await engine.dispose()


@dataclass(frozen=True)
class DemoWorld:
    """The demo tree on one backend, the app serving it, and who is who."""

    database_url: str
    engine: AsyncEngine
    client: GraphQLClient
    settings: Settings

    async def committee_id(self, code: str) -> int:
        async with self.engine.connect() as connection:
            committee_id = await connection.scalar(
                select(Committee.id).where(Committee.code == code)
            )
        assert committee_id is not None, code
        return committee_id

    async def committee_path(self, code: str) -> str:
        async with self.engine.connect() as connection:
            path = await connection.scalar(select(Committee.path).where(Committee.code == code))
        assert path is not None, code
        return path


# Extra officials beside the demo users, for the cases the demo does not cover.
SIBLING_PROVINCE_CODE = "T79"  # Hồ Chí Minh, a sibling of the demo province Hà Nội
SIBLING_VIEWER = "079000000001"
TWO_SUBTREES_VIEWER = "079000000002"
INACTIVE_VIEWER = "079000000003"
UNASSIGNED_VIEWER = "079000000004"


async def _add_test_users(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session, session.begin():
        ids = dict((await session.execute(select(Committee.code, Committee.id))).all())
        first_hcm_commune = await session.scalar(
            select(Committee.code)
            .where(Committee.parent_id == ids[SIBLING_PROVINCE_CODE])
            .order_by(Committee.path)
        )
        assert first_hcm_commune is not None
        await add_user(
            session,
            SIBLING_VIEWER,
            "Sibling province viewer",
            [(ids[SIBLING_PROVINCE_CODE], Role.VIEWER)],
        )
        await add_user(
            session,
            TWO_SUBTREES_VIEWER,
            "Viewer at two communes",
            [(ids[demo_commune_code()], Role.VIEWER), (ids[first_hcm_commune], Role.REPORTER)],
        )
        await add_user(
            session,
            INACTIVE_VIEWER,
            "Deactivated official",
            [(ids[CENTRAL_CODE], Role.ADMIN)],
            is_active=False,
        )
        await add_user(session, UNASSIGNED_VIEWER, "Official with no assignment")


async def _fill_demo(engine: AsyncEngine) -> None:
    await upgrade_database(engine)
    await build_demo(engine, cells_per_commune=DEMO_CELLS_PER_COMMUNE)
    await _add_test_users(engine)


@asynccontextmanager
async def _serving(url: str, engine: AsyncEngine, directory: Path) -> AsyncIterator[DemoWorld]:
    # A session's worth of tests asks more of one demo user in a minute than any person
    # would, and sends bad tokens by the hundred: tests/test_rate_limits.py turns the rate
    # limits on where it tests them. Tests of concurrent writes send fifty at once: load
    # shedding (32 in flight by default) has its own tests (tests/test_request_bounds.py).
    settings = Settings(
        data_dir=directory,
        database_url=url,
        rate_limits=(),
        failed_auth_per_minute=0,
        max_requests_in_flight=100,
    )
    async with app_client(settings, engine) as http:
        issuer = LocalIssuer.load_or_create(settings.signing_key_path)
        yield DemoWorld(url, engine, GraphQLClient(http, issuer), settings)
    await engine.dispose()


@asynccontextmanager
async def demo_world_on(backend: str, directory: Path) -> AsyncIterator[DemoWorld]:
    """A new demo database with the test users, and an app serving it."""
    async with throwaway_database(backend, directory) as url:
        engine = create_engine(url)
        await _fill_demo(engine)
        async with _serving(url, engine, directory) as world:
            yield world


@pytest.fixture(scope="session")
async def demo_world(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[DemoWorld]:
    """One demo world per backend for the whole session: for tests that only read."""
    async with demo_world_on(backend, tmp_path_factory.mktemp(f"demo-{backend}")) as world:
        yield world


@pytest.fixture(scope="session")
async def demo_template(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A demo database that is never served, only copied by `fresh_world`."""
    async with throwaway_database(backend, tmp_path_factory.mktemp(f"template-{backend}")) as url:
        engine = create_engine(url)
        await _fill_demo(engine)
        await engine.dispose()
        yield url


@pytest.fixture
async def fresh_world(backend: str, demo_template: str, tmp_path: Path) -> AsyncIterator[DemoWorld]:
    """A demo world of its own, for a test that writes: a copy of the template."""
    async with (
        copied_database(backend, demo_template, tmp_path) as url,
        _serving(url, create_engine(url), tmp_path) as world,
    ):
        yield world


def demo_user(role: Role, code: str) -> str:
    """The subject of the demo user with `role` at the committee `code`."""
    return demo_user_subject(role, code)


def demo_commune_code() -> str:
    return next(user.committee_code for user in demo_users() if len(user.committee_code) == 6)


def demo_cell_code() -> str:
    return f"{demo_commune_code()}-001"


@pytest.fixture
def driver_trips(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every function queued to an aiosqlite connection's thread from now on."""
    queued: list[Any] = []
    original: Any = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        queued.append(fn)
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return queued


@dataclass(frozen=True)
class ServedWorld:
    """A copy of the demo database served by a real `congress serve` process (one worker)."""

    server: Server
    issuer: LocalIssuer

    def token_for(self, subject: str) -> str:
        return self.issuer.issue(subject, TOKEN_TTL_SECONDS)


@pytest.fixture
async def served_world(
    backend: str, demo_template: str, tmp_path: Path
) -> AsyncIterator[ServedWorld]:
    async with copied_database(backend, demo_template, tmp_path) as url:
        # The key exists before the server starts, so both sign and check with it.
        issuer = LocalIssuer.load_or_create(Settings(data_dir=tmp_path).signing_key_path)
        server = start_server(url, tmp_path)
        try:
            await wait_until_ready(server)
            yield ServedWorld(server, issuer)
        finally:
            stop_server(server)
