"""`congress users ...`: accounts from the command line, for operators and the first admin.

The operator has the database itself, so nothing here is scoped; every change is still
audited, with the operating-system user as the actor.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from cli.runtime import pass_settings, run_with_engine
from config import Settings
from models import Assignment, Committee, Role, User, accounts
from models.audit import Actor
from models.refusals import Refusal
from models.text import like_contains, search_key
from models.tree import subtree_condition

T = TypeVar("T")

role_option = click.option(
    "--role",
    type=click.Choice([role.value for role in Role]),
    required=True,
    help="viewer < reporter < admin",
)
committee_option = click.option(
    "--committee", "committee_code", required=True, help="Committee code."
)


def in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one transaction; a refusal rolls back and becomes the command's error."""

    async def run(engine: AsyncEngine) -> T:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            return await work(session)

    try:
        return run_with_engine(settings, run)
    except Refusal as refusal:
        raise click.ClickException(refusal.message) from refusal


async def committee_by_code(session: AsyncSession, code: str) -> Committee:
    committee = await session.scalar(select(Committee).where(Committee.code == code))
    if committee is None:
        raise click.ClickException(f"No committee with code {code!r}.")
    return committee


async def user_by_subject(session: AsyncSession, subject: str) -> User:
    user = await session.scalar(select(User).where(User.subject == subject))
    if user is None:
        raise click.ClickException(f"No user with subject {subject!r}.")
    return user


@click.group()
def users() -> None:
    """Officials' accounts and roles."""


@users.command()
@click.argument("subject")
@click.argument("name")
@click.option("--committee", "committee_code", help="Root committee code (default: the only root).")
@pass_settings
def bootstrap(settings: Settings, subject: str, name: str, committee_code: str | None) -> None:
    """Create the first admin at the root of the tree (refused once the root has an admin)."""

    async def work(session: AsyncSession) -> str:
        if committee_code is not None:
            root = await committee_by_code(session, committee_code)
        else:
            roots = list(
                await session.scalars(select(Committee).where(Committee.parent_id.is_(None)))
            )
            if len(roots) != 1:
                raise click.ClickException(
                    "Name the root with --committee: there is not exactly one."
                )
            [root] = roots
        if root.parent_id is not None:
            raise click.ClickException(f"{root.code} is not a root committee.")
        if await accounts.active_admins_at(session, root.id):
            raise click.ClickException(
                f"{root.code} already has an admin; they create further accounts."
            )
        await accounts.create_user(
            session,
            Actor.command_line(),
            subject=subject,
            display_name=name,
            committee=root,
            role=Role.ADMIN,
        )
        return root.code

    code = in_transaction(settings, work)
    click.echo(f"Created admin {subject} at {code}. Next: congress token {subject}")


@users.command()
@click.argument("subject")
@click.argument("name")
@committee_option
@role_option
@pass_settings
def create(settings: Settings, subject: str, name: str, committee_code: str, role: str) -> None:
    """Create an account with a first role."""

    async def work(session: AsyncSession) -> None:
        committee = await committee_by_code(session, committee_code)
        await accounts.create_user(
            session,
            Actor.command_line(),
            subject=subject,
            display_name=name,
            committee=committee,
            role=Role(role),
        )

    in_transaction(settings, work)
    click.echo(f"Created {subject} as {role} at {committee_code}.")


@users.command()
@click.argument("subject")
@committee_option
@role_option
@pass_settings
def grant(settings: Settings, subject: str, committee_code: str, role: str) -> None:
    """Give a user a role at a committee (replacing the one they had there)."""

    async def work(session: AsyncSession) -> None:
        user = await user_by_subject(session, subject)
        committee = await committee_by_code(session, committee_code)
        await accounts.grant_role(
            session, Actor.command_line(), user=user, committee=committee, role=Role(role)
        )

    in_transaction(settings, work)
    click.echo(f"{subject} is {role} at {committee_code}.")


@users.command()
@click.argument("subject")
@committee_option
@pass_settings
def revoke(settings: Settings, subject: str, committee_code: str) -> None:
    """Take away a user's role at a committee."""

    async def work(session: AsyncSession) -> None:
        user = await user_by_subject(session, subject)
        committee = await committee_by_code(session, committee_code)
        await accounts.revoke_role(session, Actor.command_line(), user=user, committee=committee)

    in_transaction(settings, work)
    click.echo(f"{subject} no longer has a role at {committee_code}.")


def _set_active(settings: Settings, subject: str, active: bool) -> None:
    async def work(session: AsyncSession) -> None:
        user = await user_by_subject(session, subject)
        await accounts.set_active(session, Actor.command_line(), user=user, active=active)

    in_transaction(settings, work)
    click.echo(f"{subject} is {'active' if active else 'deactivated'}.")


@users.command()
@click.argument("subject")
@pass_settings
def deactivate(settings: Settings, subject: str) -> None:
    """Stop an account from signing in."""
    _set_active(settings, subject, active=False)


@users.command()
@click.argument("subject")
@pass_settings
def reactivate(settings: Settings, subject: str) -> None:
    """Let a deactivated account sign in again."""
    _set_active(settings, subject, active=True)


@users.command("list")
@click.option("--under", "under_code", help="Only users with a role in this committee's subtree.")
@click.option("--search", help="Name or subject, ignoring case and accents.")
@pass_settings
def list_users(settings: Settings, under_code: str | None, search: str | None) -> None:
    """List accounts with their roles."""

    async def work(session: AsyncSession) -> list[tuple[User, list[tuple[str, str]]]]:
        statement = (
            select(User, Committee.code, Assignment.role)
            .outerjoin(Assignment, Assignment.user_id == User.id)
            .outerjoin(Committee, Committee.id == Assignment.committee_id)
            .order_by(User.id, Committee.path)
        )
        if under_code is not None:
            under = await committee_by_code(session, under_code)
            statement = statement.where(subtree_condition(Committee.path, under.path))
        if search:
            pattern = like_contains(search_key(search))
            statement = statement.where(
                User.search_name.like(pattern, escape="\\")
                | func.lower(User.subject).like(pattern, escape="\\")
            )
        listing: dict[int, tuple[User, list[tuple[str, str]]]] = {}
        for user, code, role in await session.execute(statement):
            entry = listing.setdefault(user.id, (user, []))
            if code is not None:
                entry[1].append((role.value, code))
        return list(listing.values())

    for user, roles in in_transaction(settings, work):
        status = "active" if user.is_active else "inactive"
        role_text = ", ".join(f"{role}@{code}" for role, code in roles) or "-"
        click.echo(f"{user.subject:<16} {status:<8} {user.display_name:<40} {role_text}")
