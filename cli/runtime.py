"""What every subcommand shares: the Settings object and a migrated engine to work on."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import click
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from config import Settings
from models.database import create_engine
from models.migrate import upgrade_database

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

P = ParamSpec("P")

DATA_DIR_HELP = "Holds the SQLite database and the local signing key. [default: ./congress-data]"
DATABASE_URL_HELP = (
    "e.g. postgresql://postgres@127.0.0.1:5432/congress [default: SQLite in the data dir]"
)


def data_dir_option(name: str = "data_dir", **extra: Any) -> Callable[[F], F]:
    return click.option(
        "--data-dir",
        name,
        type=click.Path(file_okay=False, path_type=Path),
        help=DATA_DIR_HELP,
        **extra,
    )


def database_url_option(name: str = "database_url", **extra: Any) -> Callable[[F], F]:
    return click.option("--database-url", name, help=DATABASE_URL_HELP, **extra)


def with_locations(settings: Settings, data_dir: Path | None, database_url: str | None) -> Settings:
    """`settings` with the data directory and database given on the command line, if any."""
    if data_dir is not None:
        settings = settings.with_(data_dir=data_dir)
    if database_url:
        settings = settings.with_(database_url=database_url)
    return settings


def pass_settings(command: Callable[Concatenate[Settings, P], T]) -> Callable[P, T]:
    """Pass the command the Settings the `congress` group made, and accept `--data-dir` and
    `--database-url` after the subcommand too (`congress serve --database-url ...`), where
    they win over the same options given before it."""

    @data_dir_option("command_data_dir")
    @database_url_option("command_database_url")
    @click.pass_obj
    @functools.wraps(command)
    def with_settings(settings: Settings, *args: Any, **kwargs: Any) -> T:
        settings = with_locations(
            settings, kwargs.pop("command_data_dir"), kwargs.pop("command_database_url")
        )
        return command(settings, *args, **kwargs)

    return with_settings


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
