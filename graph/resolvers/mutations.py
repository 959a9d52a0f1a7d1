"""What every mutation shares: finding its objects within scope, checking the viewer's role,
and running the change in one transaction that commits only if nothing was refused."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlalchemy.exc import DBAPIError

from graph.context import Context
from graph.observability.metrics import record_write_retry
from graph.resolvers import committees as read_committees
from graph.resolvers.users import user_by_global_id
from models import Committee, Role, User, idempotency
from models.audit import Actor
from models.refusals import Conflicting, Contention, NotAllowed, NotVisible, Refusal
from models.tree import parent_path

Result = TypeVar("Result")


def actor_of(context: Context) -> Actor:
    viewer = context.viewer
    return Actor(user_id=viewer.user_id, subject=viewer.subject, request_id=context.request_id)


NO_COMMITTEE = "No committee found."


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


def require_admin_at(context: Context, committee: Committee) -> None:
    if not context.viewer.has_role_at(committee.path, Role.ADMIN):
        raise NotAllowed("You need the admin role at this committee.")


def require_admin_above(context: Context, committee: Committee) -> None:
    """Moving, merging away or closing a unit is its parent level's decision: the viewer
    must administer the parent, so nobody can do this to their own scope root."""
    above = parent_path(committee.path)
    if above is None or not context.viewer.has_role_at(above, Role.ADMIN):
        raise NotAllowed("Only an admin of the level above can do this to this committee.")


# Concurrent writers on one row retry on fresh reads; past this many tries the client is told
# to try again later rather than kept waiting (or shown a database error).
MAX_ATTEMPTS = 40
_RETRY_DELAY_SECONDS = (0.002, 0.02)


def is_transient(error: DBAPIError) -> bool:
    """A lock or serialization failure that a new attempt can get past."""
    code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    if code in {"40001", "40P01", "55P03"}:  # serialization failure, deadlock, lock timeout
        return True
    text = str(error.orig).lower()
    return "database is locked" in text or "database is busy" in text


async def run_mutation(
    context: Context, change: Callable[[], Awaitable[Result]]
) -> Result | Refusal:
    """Run `change` and commit; on a refusal roll everything back and return the refusal.

    If another writer got in between this request's reads and its writes, everything is
    rolled back and `change` runs again from fresh reads; no lock error reaches the client.
    """
    for _attempt in range(MAX_ATTEMPTS):
        try:
            result = await change()
            await context.session.commit()
        except Refusal as refusal:
            await context.session.rollback()
            # The rollback expired every object the loaders hold: later fields read afresh.
            context.reset_loaders()
            return refusal
        except Contention:
            pass
        except DBAPIError as error:
            if not is_transient(error):
                await context.session.rollback()
                context.reset_loaders()
                raise
        except BaseException:
            await context.session.rollback()
            context.reset_loaders()
            raise
        else:
            context.reset_loaders()
            return result
        await context.session.rollback()
        context.reset_loaders()
        await pause_before_retry()
    return too_busy()


async def pause_before_retry() -> None:
    """A random pause, so writers that collided do not collide again at once."""
    # Every retry of a write (here and in graph/milestone_writer.py) passes this way.
    record_write_retry()
    await asyncio.sleep(random.uniform(*_RETRY_DELAY_SECONDS))


def too_busy() -> Conflicting:
    """The answer once MAX_ATTEMPTS attempts all met other writers."""
    return Conflicting("Too many people are changing this right now; please try again.")


class VersionedRow(Protocol):
    id: int
    version: int


@dataclass(frozen=True, slots=True)
class Answer:
    """What an exactly-once mutation answers: the row it changed, the version this request
    made, and whether this repeats the answer given to an earlier request with its key."""

    row_id: int
    version: int
    replayed: bool = False


async def run_exactly_once(
    context: Context,
    operation: str,
    request: Mapping[str, object],
    idempotency_key: str | None,
    act: Callable[[], Awaitable[VersionedRow]],
) -> Answer | Refusal:
    """`run_mutation` for writes that take an idempotency key: at most once per key.

    The key is looked up before anything else, so a repeat gets its first answer even when
    the viewer could no longer make that change (a difficulty escalated away from them). A
    repeat racing its own first attempt is refused by what the first changed (a new
    version); once that one committed, it is answered as the first was.
    """
    user_id = context.viewer.user_id
    fingerprint = idempotency.fingerprint(operation, request)

    async def first_answer(key: str | None) -> Answer | None:
        if key is None:
            return None
        answer = await idempotency.replay(context.session, user_id, key, operation, fingerprint)
        return None if answer is None else Answer(int(answer["id"]), int(answer["version"]), True)

    async def change() -> Answer:
        key = None if idempotency_key is None else idempotency.checked_key(idempotency_key)
        replayed = await first_answer(key)
        if replayed is not None:
            return replayed
        try:
            row = await act()
        except Refusal:
            # Nothing `act` wrote before refusing may be kept, whatever the answer.
            await context.session.rollback()
            replayed = await first_answer(key)
            if replayed is not None:
                return replayed
            raise
        if key is not None:
            await idempotency.remember_now(
                context.session, user_id, key, operation, fingerprint,
                {"id": row.id, "version": row.version},
            )  # fmt: skip
        return Answer(row.id, row.version)

    return await run_mutation(context, change)
