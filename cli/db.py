"""`congress db ...`: the schema."""

from __future__ import annotations

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from cli.runtime import display_url, pass_settings, run_with_engine
from config import Settings
from models.migrate import current_revision


@click.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@pass_settings
def upgrade(settings: Settings) -> None:
    """Create the database if needed and migrate it to the latest schema."""

    async def report(engine: AsyncEngine) -> None:
        click.echo(f"{display_url(settings)} is at revision {await current_revision(engine)}")

    run_with_engine(settings, report)
