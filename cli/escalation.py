"""`congress escalate-overdue`: move up every difficulty nobody answered in time, once.

For cron, beside (or instead of) the loop the API runs while serving; running both, or two
crons, at the same time is safe: each step claims the difficulty's version.
"""

from __future__ import annotations

from datetime import timedelta

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from cli.runtime import pass_settings, run_with_engine
from config import Settings
from models.base import utc_now
from models.database import create_session_factory
from models.difficulties import escalate_overdue


@click.command("escalate-overdue")
@click.option(
    "--older-than",
    "older_than_seconds",
    type=click.IntRange(min=0),
    help="Escalate difficulties with no activity for this many seconds. "
    "[default: CONGRESS_ESCALATE_AFTER_SECONDS, 3 days]",
)
@pass_settings
def escalate_overdue_command(settings: Settings, older_than_seconds: int | None) -> None:
    """Escalate overdue open difficulties one level up, and say how many moved."""
    seconds = settings.escalate_after_seconds if older_than_seconds is None else older_than_seconds

    async def work(engine: AsyncEngine) -> int:
        async with create_session_factory(engine)() as session:
            return await escalate_overdue(session, utc_now(), older_than=timedelta(seconds=seconds))

    escalated = run_with_engine(settings, work)
    noun = "difficulty" if escalated == 1 else "difficulties"
    click.echo(f"Escalated {escalated} overdue {noun}.")
