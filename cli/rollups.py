"""`congress check-rollups`: recompute every rollup from the congresses, report, repair."""

from __future__ import annotations

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from cli.runtime import pass_settings, run_with_engine
from config import Settings
from models.database import create_session_factory
from models.rollup_check import DriftReport, check_rollups


@click.command("check-rollups")
@click.option("--repair", is_flag=True, help="Rebuild every rollup if any counter is wrong.")
@pass_settings
def check_rollups_command(settings: Settings, repair: bool) -> None:
    """Compare the progress rollups with a recomputation from the congresses' recorded state.

    Exits with status 1 when counters were wrong and not repaired, so cron can alert on it.
    """

    async def work(engine: AsyncEngine) -> DriftReport:
        async with create_session_factory(engine)() as session, session.begin():
            return await check_rollups(session, repair=repair)

    report = run_with_engine(settings, work)
    if not report.counters_wrong:
        click.echo("Rollups agree with the congresses: no drift.")
        return
    click.echo(f"{report.counters_wrong} rollup counters differ from the congresses:")
    for drift in report.sample:
        key = drift.key
        what = key.measure if key.day is None else f"{key.measure} on {key.day}"
        click.echo(
            f"  committee {key.committee_id}, term {key.term_id}, {key.levels_below} levels "
            f"below, {what}: stored {drift.stored}, recomputed {drift.expected}"
        )
    if report.counters_wrong > len(report.sample):
        click.echo(f"  ... and {report.counters_wrong - len(report.sample)} more")
    if report.repaired:
        click.echo("Repaired: every rollup was rebuilt from the congresses.")
    else:
        click.echo("Run again with --repair to rebuild them.")
        raise SystemExit(1)
