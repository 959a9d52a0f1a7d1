"""`congress`: migrate, import, build the demo, issue tokens and serve the API."""

from __future__ import annotations

from pathlib import Path

import click

from cli.backups import backup, restore
from cli.db import db
from cli.demo import demo
from cli.escalation import escalate_overdue_command
from cli.rollups import check_rollups_command
from cli.runtime import data_dir_option, database_url_option, with_locations
from cli.serve import serve
from cli.tokens import token
from cli.tree import import_tree
from cli.users import users
from config import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@data_dir_option(envvar="CONGRESS_DATA_DIR")
@database_url_option(envvar="CONGRESS_DATABASE_URL")
@click.pass_context
def main(context: click.Context, data_dir: Path | None, database_url: str | None) -> None:
    """Follow the congresses of every committee, from the centre down to the cells. The
    data directory and the database may be given before or after the subcommand."""
    context.obj = with_locations(Settings.from_env(), data_dir, database_url)


for command in (
    backup,
    check_rollups_command,
    db,
    demo,
    escalate_overdue_command,
    import_tree,
    restore,
    serve,
    token,
    users,
):
    main.add_command(command)
