"""`congress demo`: build the demo database and print a ready-to-paste token per demo user."""

from __future__ import annotations

import json
import sys
from datetime import timedelta

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from cli.runtime import display_url, pass_settings, run_with_engine
from config import Settings
from domain.demo_activity import record_demo_activity
from domain.demo_reports import record_demo_reports
from models.congress_progress import local_today
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


activity_option = click.option(
    "--activity/--no-activity",
    default=True,
    show_default=True,
    help="Place the deadlines around today and record the months of progress, results and "
    "difficulties that brought each congress there (about six changes a congress: for a "
    "million committees, many minutes and gigabytes). --no-activity builds the bare tree "
    "the tests use: fixed 2025 deadlines, nothing recorded.",
)


async def ensure_demo(
    engine: AsyncEngine, cells_per_commune: int, activity: bool = True
) -> list[DemoUser]:
    """Build the demo into an empty database, for today (Vietnam's day, as the API judges
    deadlines) and with the activity that brought each congress where it stands unless
    `activity` is off; on a filled one, keep what is there."""
    if not await database_is_empty(engine):
        click.echo("The database already holds a tree; keeping it.", err=True)
        return await stored_demo_users(engine)
    today = local_today() if activity else None
    total = demo_size(cells_per_commune)
    with click.progressbar(
        length=total, label=f"Building {total:,} committees", file=sys.stderr
    ) as bar:
        users = await build_demo(engine, cells_per_commune, progress=bar.update, today=today)
    if today is None:
        return users
    with click.progressbar(
        length=total, label="Recording their congresses' progress", file=sys.stderr
    ) as bar:
        summary = await record_demo_activity(engine, today, bar.update)
    reports = await record_demo_reports(engine, today)
    click.echo(
        f"Recorded {summary.congress_changes:,} congress changes, "
        f"{summary.difficulties} difficulties and {reports} report decisions, "
        f"up to {today - timedelta(days=1)}.",
        err=True,
    )
    return users


def print_demo_tokens(settings: Settings, users: list[DemoUser], base_url: str) -> None:
    issuer = LocalIssuer.load_or_create(settings.signing_key_path)
    # As long as the server accepts (CONGRESS_MAX_TOKEN_LIFETIME_SECONDS), no longer.
    lifetime = settings.max_token_lifetime_seconds
    click.echo(f"\nThe web app: open {base_url}/ in a browser and pick a demo user to sign in as.")
    click.echo(f"\nDemo users (tokens valid {lifetime / 3600:g} hours), for scripts and apps.")
    click.echo(
        f"GraphiQL ({base_url}/graphql) uses the web app's session, or paste one line into "
        "its Headers tab:\n"
    )
    for user in users:
        header = json.dumps({"Authorization": f"Bearer {issuer.issue(user.subject, lifetime)}"})
        click.echo(
            f"# {user.role.value:<8} at {user.committee_code:<10} {user.display_name} ({user.subject})"
        )
        click.echo(header)
    click.echo()


@click.command()
@cells_option
@activity_option
@pass_settings
def demo(settings: Settings, cells_per_commune: int, activity: bool) -> None:
    """Create, migrate and fill the demo database, then print tokens for its users."""
    users = run_with_engine(
        settings, lambda engine: ensure_demo(engine, cells_per_commune, activity)
    )
    click.echo(f"Demo database: {display_url(settings)}", err=True)
    print_demo_tokens(settings, users, "http://127.0.0.1:8000")
