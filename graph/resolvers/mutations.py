"""What every mutation shares: finding its objects within scope, checking the viewer's role,
and running the change in one transaction that commits only if nothing was refused."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from graph.context import Context
from graph.resolvers import committees as read_committees
from graph.resolvers.users import user_by_global_id
from models import Committee, Role, User
from models.audit import Actor
from models.refusals import NotAllowed, NotVisible, Refusal
from models.tree import parent_path

Result = TypeVar("Result")


def actor_of(context: Context) -> Actor:
    viewer = context.viewer
    return Actor(user_id=viewer.user_id, subject=viewer.subject, request_id=context.request_id)


async def visible_committee(context: Context, global_id: str, field: str) -> Committee:
    committee = await read_committees.committee_by_global_id(context, global_id)
    if committee is None:
        raise NotVisible("No committee found.", field=field)
    return committee


async def visible_user(context: Context, global_id: str, field: str) -> User:
    user = await user_by_global_id(context, global_id)
    if user is None:
        raise NotVisible("No user found.", field=field)
    return user


def require_admin_at(context: Context, committee: Committee) -> None:
    if not context.viewer.has_role_at(committee.path, Role.ADMIN):
        raise NotAllowed("You need the admin role at this committee.")


def require_admin_above(context: Context, committee: Committee) -> None:
    """Moving, merging away or closing a unit is its parent level's decision: the viewer
    must administer the parent, so nobody can do this to their own scope root."""
    above = parent_path(committee.path)
    if above is None or not context.viewer.has_role_at(above, Role.ADMIN):
        raise NotAllowed("Only an admin of the level above can do this to this committee.")


async def run_mutation(
    context: Context, change: Callable[[], Awaitable[Result]]
) -> Result | Refusal:
    """Run `change` and commit; on a refusal roll everything back and return the refusal."""
    try:
        result = await change()
    except Refusal as refusal:
        await context.session.rollback()
        return refusal
    except BaseException:
        await context.session.rollback()
        raise
    await context.session.commit()
    context.reset_loaders()
    return result
