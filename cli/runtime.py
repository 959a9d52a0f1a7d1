"""What every subcommand shares: the Settings object and a migrated engine to work on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from config import Settings
from models.database import create_engine
from models.migrate import upgrade_database

T = TypeVar("T")

pass_settings = click.make_pass_decorator(Settings)


def run_with_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Create and migrate the database if needed, run `work` on it, then dispose the engine."""

    async def main() -> T:
        engine = create_engine(settings.resolved_database_url)
        try:
            await upgrade_database(engine)
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def display_url(settings: Settings) -> str:
    return make_url(settings.resolved_database_url).render_as_string(hide_password=True)
