"""The schema comes from Alembic and goes both ways."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from models.migrate import current_revision, downgrade_database, head_revision, upgrade_database


async def test_upgrade_reaches_head_and_creates_tables(empty_engine: AsyncEngine) -> None:
    assert await current_revision(empty_engine) == head_revision()
    async with empty_engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert {
        "committee",
        "term",
        "congress",
        "milestone_template",
        "app_user",
        "assignment",
    } <= tables


async def test_downgrade_to_base_and_back(empty_engine: AsyncEngine) -> None:
    await downgrade_database(empty_engine)
    assert await current_revision(empty_engine) is None
    await upgrade_database(empty_engine)
    assert await current_revision(empty_engine) == head_revision()
