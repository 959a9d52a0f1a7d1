"""What every mutation resolver shares: its unit of work, and finding its objects within
scope. Who may do what is the policy's (permissions/policy.py); the transaction, retries
and exactly-once replay are the unit of work's (domain/unit_of_work.py)."""

from __future__ import annotations

from domain.unit_of_work import UnitOfWork
from graph.context import Context
from graph.resolvers import committees as read_committees
from graph.resolvers.users import user_by_global_id
from models import Committee, User
from models.refusals import NO_COMMITTEE, NotVisible


def unit_of_work(context: Context) -> UnitOfWork:
    """The request's writes: its session and viewer; its loaders are forgotten whenever a
    transaction ends, so later fields read what the write left."""
    return UnitOfWork(
        context.session,
        context.viewer,
        context.request_id,
        forget_reads=context.reset_loaders,
        sending_commit=context.note_write_sent,
    )


async def visible_committee(context: Context, global_id: str, field: str) -> Committee:
    committee = await read_committees.committee_by_global_id(context, global_id)
    if committee is None:
        raise NotVisible(NO_COMMITTEE, field=field)
    return committee


async def visible_user(context: Context, global_id: str, field: str) -> User:
    user = await user_by_global_id(context, global_id)
    if user is None:
        raise NotVisible("No user found.", field=field)
    return user
