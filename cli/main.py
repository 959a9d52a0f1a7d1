"""`congress`: migrate, import, build the demo, issue tokens and serve the API."""

from __future__ import annotations

from pathlib import Path

import click

from cli.db import db
from cli.demo import demo
from cli.escalation import escalate_overdue_command
from cli.rollups import check_rollups_command
from cli.serve import serve
from cli.tokens import token
from cli.tree import import_tree
from cli.users import users
from config import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="CONGRESS_DATA_DIR",
    help="Holds the SQLite database and the local signing key. [default: ./congress-data]",
)
@click.option(
    "--database-url",
    envvar="CONGRESS_DATABASE_URL",
    help="e.g. postgresql://postgres@127.0.0.1:5432/congress [default: SQLite in the data dir]",
)
@click.pass_context
def main(context: click.Context, data_dir: Path | None, database_url: str | None) -> None:
    """Follow the congresses of every committee, from the centre down to the cells."""
    settings = Settings.from_env()
    if data_dir is not None:
        settings = settings.with_(data_dir=data_dir)
    if database_url:
        settings = settings.with_(database_url=database_url)
    context.obj = settings


for command in (
    check_rollups_command,
    db,
    demo,
    escalate_overdue_command,
    import_tree,
    serve,
    token,
    users,
):
    main.add_command(command)
