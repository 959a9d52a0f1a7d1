"""The schema comes from Alembic and goes both ways."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from models import Base
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


async def test_models_and_migrations_agree(empty_engine: AsyncEngine) -> None:
    def differences(sync_connection: Connection) -> list[object]:
        context = MigrationContext.configure(sync_connection)
        return list(compare_metadata(context, Base.metadata))

    async with empty_engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_audit_rows_cannot_be_changed_or_deleted(empty_engine: AsyncEngine) -> None:
    async with empty_engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO audit_log (occurred_at, action) VALUES (CURRENT_TIMESTAMP, 'x')")
        )
    for statement in ("UPDATE audit_log SET action = 'y'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with empty_engine.begin() as connection:
                await connection.execute(text(statement))
    async with empty_engine.connect() as connection:
        assert await connection.scalar(text("SELECT action FROM audit_log")) == "x"


async def test_upgrading_a_database_that_holds_data(empty_engine: AsyncEngine) -> None:
    """Every revision applies on top of real rows (SQLite rebuilds tables to alter them)."""
    await downgrade_database(empty_engine, "0001")
    async with empty_engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO committee (id, code, name, search_name, kind, depth, path) "
                "VALUES (1, 'TW', 'Trung ương', 'trung uong', 'central', 1, '/0000000001/')"
            )
        )
        await connection.execute(
            text(
                "INSERT INTO app_user (id, subject, display_name, is_active, created_at) "
                "VALUES (1, '001', 'Nguyễn Văn An', true, CURRENT_TIMESTAMP)"
            )
        )
        await connection.execute(
            text(
                "INSERT INTO assignment (user_id, committee_id, role, created_at) "
                "VALUES (1, 1, 'admin', CURRENT_TIMESTAMP)"
            )
        )
    await upgrade_database(empty_engine)
    assert await current_revision(empty_engine) == head_revision()
    async with empty_engine.connect() as connection:
        assert await connection.scalar(text("SELECT version FROM committee WHERE code = 'TW'")) == 1
        assert await connection.scalar(text("SELECT count(*) FROM assignment")) == 1
        if connection.dialect.name == "sqlite":
            assert await connection.scalar(text("PRAGMA foreign_keys")) == 1
    async with empty_engine.connect() as connection:
        assert await connection.scalar(text("SELECT search_name FROM app_user")) == "nguyen van an"


async def test_audit_rows_cannot_be_replaced_or_truncated(empty_engine: AsyncEngine) -> None:
    async with empty_engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO audit_log (id, occurred_at, action) VALUES (1, CURRENT_TIMESTAMP, 'x')"
            )
        )
    sqlite = empty_engine.dialect.name == "sqlite"
    statement = (
        "INSERT OR REPLACE INTO audit_log (id, occurred_at, action) VALUES (1, CURRENT_TIMESTAMP, 'forged')"
        if sqlite
        else "TRUNCATE audit_log"
    )
    with pytest.raises(DBAPIError, match="append-only"):
        async with empty_engine.begin() as connection:
            await connection.execute(text(statement))
    async with empty_engine.connect() as connection:
        assert await connection.scalar(text("SELECT action FROM audit_log")) == "x"
