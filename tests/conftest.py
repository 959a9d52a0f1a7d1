"""Shared fixtures: every test that touches a database runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from models.database import create_engine
from models.migrate import upgrade_database
from tests.databases import BACKENDS, throwaway_database


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
