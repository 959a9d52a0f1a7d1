"""`congress demo`: build the demo database and print a ready-to-paste token per demo user."""

from __future__ import annotations

import json
import sys

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from cli.runtime import display_url, pass_settings, run_with_engine
from config import Settings
from models.demo import (
    DEFAULT_CELLS_PER_COMMUNE,
    DemoUser,
    build_demo,
    database_is_empty,
    demo_size,
    stored_demo_users,
)
from permissions.tokens import LocalIssuer

cells_option = click.option(
    "--cells-per-commune",
    type=click.IntRange(min=0, max=1000),
    default=DEFAULT_CELLS_PER_COMMUNE,
    show_default=True,
    help="Generated cells under each of the 3,321 communes (301 gives a million committees).",
)


async def ensure_demo(engine: AsyncEngine, cells_per_commune: int) -> list[DemoUser]:
    """Build the demo into an empty database; on a filled one, keep what is there."""
    if not await database_is_empty(engine):
        click.echo("The database already holds a tree; keeping it.", err=True)
        return await stored_demo_users(engine)
    total = demo_size(cells_per_commune)
    with click.progressbar(
        length=total, label=f"Building {total:,} committees", file=sys.stderr
    ) as bar:
        return await build_demo(engine, cells_per_commune, progress=bar.update)


def print_demo_tokens(settings: Settings, users: list[DemoUser], base_url: str) -> None:
    issuer = LocalIssuer.load_or_create(settings.signing_key_path)
    # As long as the server accepts (CONGRESS_MAX_TOKEN_LIFETIME_SECONDS), no longer.
    lifetime = settings.max_token_lifetime_seconds
    click.echo(f"\nDemo users (tokens valid {lifetime / 3600:g} hours).")
    click.echo(f"Open {base_url}/graphql, then paste one line into GraphiQL's Headers tab:\n")
    for user in users:
        header = json.dumps({"Authorization": f"Bearer {issuer.issue(user.subject, lifetime)}"})
        click.echo(
            f"# {user.role.value:<8} at {user.committee_code:<10} {user.display_name} ({user.subject})"
        )
        click.echo(header)
    click.echo()


@click.command()
@cells_option
@pass_settings
def demo(settings: Settings, cells_per_commune: int) -> None:
    """Create, migrate and fill the demo database, then print tokens for its users."""
    users = run_with_engine(settings, lambda engine: ensure_demo(engine, cells_per_commune))
    click.echo(f"Demo database: {display_url(settings)}", err=True)
    print_demo_tokens(settings, users, "http://127.0.0.1:8000")
