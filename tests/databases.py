"""Throwaway databases for tests: a SQLite file, or a PostgreSQL database on the local server."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

BACKENDS = ("sqlite", "postgresql")
# The server CI and every developer machine run; a test that cannot reach it fails.
POSTGRES_ADMIN_DSN = os.environ.get(
    "CONGRESS_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


@asynccontextmanager
async def throwaway_database(backend: str, directory: Path) -> AsyncIterator[str]:
    """Yield the async SQLAlchemy URL of a new, empty database and drop it afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / f'{uuid.uuid4().hex}.db'}"
        return
    async with _postgres_database(template=None) as url:
        yield url


@asynccontextmanager
async def copied_database(backend: str, template_url: str, directory: Path) -> AsyncIterator[str]:
    """Yield the URL of a new database holding a copy of `template_url`'s (whose engines are
    all disposed), and drop it afterwards: much faster than building the same rows again."""
    if backend == "sqlite":
        copy = directory / f"{uuid.uuid4().hex}.db"
        shutil.copyfile(template_url.split(":///", 1)[1], copy)
        yield f"sqlite+aiosqlite:///{copy}"
        return
    async with _postgres_database(template=template_url.rsplit("/", 1)[1]) as url:
        yield url


async def _run_as_admin(sql: str) -> None:
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


@asynccontextmanager
async def _postgres_database(template: str | None) -> AsyncIterator[str]:
    """A new database on the local server (a copy of `template` if given), dropped after."""
    name = f"congress_test_{uuid.uuid4().hex[:12]}"
    copy_of = "" if template is None else f' TEMPLATE "{template}"'
    await _run_as_admin(f'CREATE DATABASE "{name}"{copy_of}')
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].split("://", 1)[1]
    try:
        yield f"postgresql+asyncpg://{base}/{name}"
    finally:
        await _run_as_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
