"""`congress backup FILE` and `congress restore FILE` (models/backups.py, README "Backups")."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from cli.runtime import pass_settings, run_with_engine
from config import Settings
from models.backups import (
    BackupError,
    backup_sqlite,
    check_sqlite_file,
    in_use_by_a_server,
    key_backup_path,
    pg_dump_command,
    pg_restore_commands,
    restore_sqlite,
    sqlite_path,
)
from models.database import create_engine, create_session_factory
from models.rollup_check import check_rollups

FILE = click.Path(dir_okay=False, path_type=Path)
# pg_dump's and pg_restore's status when the tool is not installed.
TOOL_MISSING = 2


@click.command()
@click.argument("target", type=FILE)
@pass_settings
def backup(settings: Settings, target: Path) -> None:
    """Write a consistent copy of the database to TARGET while the server runs.

    SQLite: SQLite's online backup (what the write-ahead log holds included). PostgreSQL:
    `pg_dump --format=custom`. The local issuer's signing key, when that issuer is used, is
    copied beside it (TARGET.signing-key.pem): tokens it signed stay valid after a restore.
    """
    url = settings.resolved_database_url
    database = sqlite_path(url)
    if database is not None:
        if not database.exists():
            raise click.ClickException(f"There is no database at {database}.")
        backup_sqlite(database, target)
    else:
        _run_tool(pg_dump_command(url, target))
    click.echo(f"Backed up the database to {target} ({target.stat().st_size:,} bytes).")
    if settings.local_issuer_enabled and settings.signing_key_path.exists():
        key_copy = key_backup_path(target)
        shutil.copyfile(settings.signing_key_path, key_copy)
        key_copy.chmod(0o600)
        click.echo(f"The local issuer's signing key: {key_copy} (keep it as secret as the key).")


@click.command()
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_settings
def restore(settings: Settings, source: Path) -> None:
    """Replace the database with the backup SOURCE, then migrate it and check its rollups.

    Refuses while a `congress serve` process uses the database. Checks the backup before
    anything is replaced (SQLite's integrity check; PostgreSQL's archive table of
    contents), runs the migrations a newer release needs, and `check-rollups`: exits with
    status 1 if the counters disagree with the congresses.
    """
    url = settings.resolved_database_url
    database = sqlite_path(url)
    if asyncio.run(_in_use(url)):
        raise click.ClickException(
            "A server is using this database: stop every `congress serve` on it first."
        )
    try:
        if database is not None:
            check_sqlite_file(source)
            restore_sqlite(source, database)
        else:
            check, replace = pg_restore_commands(url, source)
            _run_tool(check, quiet=True)
            _run_tool(replace)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    key_copy = key_backup_path(source)
    if key_copy.exists():
        settings.signing_key_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(key_copy, settings.signing_key_path)
        settings.signing_key_path.chmod(0o600)
        click.echo(f"Restored the local issuer's signing key to {settings.signing_key_path}.")

    async def recount(engine: AsyncEngine) -> int:
        async with create_session_factory(engine)() as session, session.begin():
            return (await check_rollups(session, repair=False)).counters_wrong

    wrong = run_with_engine(settings, recount)  # migrates first
    click.echo(f"Restored {source} and brought it to this release's schema.")
    if wrong:
        click.echo(f"{wrong} rollup counters disagree: run `congress check-rollups --repair`.")
        raise SystemExit(1)
    click.echo("Rollups agree with the congresses.")


async def _in_use(url: str) -> bool:
    engine = create_engine(url)
    try:
        return await in_use_by_a_server(engine)
    except Exception:  # an empty or missing database: nobody serves it
        return False
    finally:
        await engine.dispose()


def _run_tool(command: list[str], *, quiet: bool = False) -> None:
    """Run PostgreSQL's tool, or say exactly what to run where it is not installed."""
    if shutil.which(command[0]) is None:
        click.echo(f"{command[0]} is not installed here. Run, where it is:\n  {' '.join(command)}")
        raise SystemExit(TOOL_MISSING)
    finished = subprocess.run(command, capture_output=quiet, check=False)
    if finished.returncode != 0:
        raise click.ClickException(f"{command[0]} failed (status {finished.returncode}).")
