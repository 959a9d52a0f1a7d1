"""`congress token SUBJECT`: a bearer token from the local issuer, for an active user."""

from __future__ import annotations

import click
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from cli.runtime import pass_settings, run_with_engine
from config import Settings
from permissions.tokens import LocalIssuer
from permissions.viewer import load_active_viewer


@click.command()
@click.argument("subject")
@click.option(
    "--ttl", type=click.IntRange(min=60), help="Lifetime in seconds. [default: CONGRESS_TOKEN_TTL]"
)
@pass_settings
def token(settings: Settings, subject: str, ttl: int | None) -> None:
    """Print a bearer token for the active user SUBJECT."""

    async def is_active(engine: AsyncEngine) -> bool:
        async with AsyncSession(engine) as session:
            return await load_active_viewer(session, subject) is not None

    if not run_with_engine(settings, is_active):
        raise click.ClickException(f"No active user with subject {subject!r}.")
    lifetime = ttl or settings.token_ttl_seconds
    if lifetime > settings.max_token_lifetime_seconds:
        raise click.ClickException(
            f"A token living {lifetime} s would be refused: the server accepts at most "
            f"{settings.max_token_lifetime_seconds} s (CONGRESS_MAX_TOKEN_LIFETIME_SECONDS)."
        )
    issuer = LocalIssuer.load_or_create(settings.signing_key_path)
    click.echo(issuer.issue(subject, lifetime))
