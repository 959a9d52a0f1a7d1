"""Officials' accounts and roles: the writes, each with its audit row.

These functions check the data (taken subjects, closed committees) but not who may act:
that is `permissions`' job, done by the caller before calling them (the GraphQL
resolvers, or the operator's own authority at the command line).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit import Actor, append_audit
from models.browser_sessions import BrowserSession
from models.change_feed import ChangeKind, publish
from models.refusals import Conflicting, Contention, Invalid, NotVisible
from models.text import search_key
from models.tree import Committee, require_open
from models.users import Assignment, Role, User
from models.versions import check_expected_version, claim_next_version

# Identity providers' subjects: a personal identification number, or any opaque id without
# spaces. Checked here so nothing unprintable reaches the logs or the audit trail.
SUBJECT_PATTERN = re.compile(r"[A-Za-z0-9._:@|-]{1,64}")
MAX_DISPLAY_NAME = 255


def checked_subject(subject: str) -> str:
    subject = subject.strip()
    if not SUBJECT_PATTERN.fullmatch(subject):
        raise Invalid(
            "The subject must be 1-64 letters, digits or . _ : @ | - (no spaces).", field="subject"
        )
    return subject


def checked_display_name(name: str, *, field: str = "name") -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= MAX_DISPLAY_NAME:
        raise Invalid(f"The name must be 1-{MAX_DISPLAY_NAME} characters.", field=field)
    return name


async def add_user(
    session: AsyncSession,
    subject: str,
    display_name: str,
    assignments: Iterable[tuple[int, Role]] = (),
    *,
    is_active: bool = True,
) -> User:
    """Insert a user with (committee id, role) assignments, unchecked and unaudited: for the
    demo and for tests. Officials' accounts go through `create_user`."""
    user = User(
        subject=subject,
        display_name=display_name,
        search_name=search_key(display_name),
        is_active=is_active,
    )
    session.add(user)
    await session.flush()
    session.add_all(
        Assignment(user_id=user.id, committee_id=committee_id, role=role)
        for committee_id, role in assignments
    )
    await session.flush()
    return user


async def create_user(
    session: AsyncSession,
    actor: Actor,
    *,
    subject: str,
    display_name: str,
    committee: Committee,
    role: Role,
) -> User:
    subject = checked_subject(subject)
    display_name = checked_display_name(display_name)
    require_open(committee, "committeeId")
    if await session.scalar(select(User.id).where(User.subject == subject)) is not None:
        raise Conflicting("A user with this subject already exists.", field="subject")
    try:
        user = await add_user(session, subject, display_name, [(committee.id, role)])
    except IntegrityError as error:
        # The same subject created concurrently: run again, and the check above answers.
        raise Contention("subject taken concurrently") from error
    append_audit(
        session,
        actor,
        action="user.create",
        committee_id=committee.id,
        target_type="User",
        target_id=user.id,
        after={"subject": subject, "name": display_name, "role": role.value},
    )
    return user


async def grant_role(
    session: AsyncSession,
    actor: Actor,
    *,
    user: User,
    committee: Committee,
    role: Role,
    expected_version: int | None = None,
) -> None:
    """Give `user` `role` at `committee`, replacing the role they had there; no-op if unchanged."""
    require_open(committee, "committeeId")
    assignment = await _assignment(session, user.id, committee.id)
    before = None if assignment is None else {"role": assignment.role.value}
    if assignment is not None and assignment.role is role:
        check_expected_version(user, expected_version)
        return
    await claim_next_version(session, user, expected_version)
    if assignment is None:
        session.add(Assignment(user_id=user.id, committee_id=committee.id, role=role))
    else:
        assignment.role = role
    append_audit(
        session,
        actor,
        action="role.grant",
        committee_id=committee.id,
        target_type="User",
        target_id=user.id,
        before=before,
        after={"role": role.value},
    )
    await session.flush()


async def revoke_role(
    session: AsyncSession,
    actor: Actor,
    *,
    user: User,
    committee: Committee,
    expected_version: int | None = None,
) -> None:
    assignment = await _assignment(session, user.id, committee.id)
    if assignment is None:
        raise NotVisible("This user has no role at this committee.", field="committeeId")
    await claim_next_version(session, user, expected_version)
    await session.delete(assignment)
    append_audit(
        session,
        actor,
        action="role.revoke",
        committee_id=committee.id,
        target_type="User",
        target_id=user.id,
        before={"role": assignment.role.value},
    )
    publish_access_change(session, user, committee.id, committee.path)
    await session.flush()


async def active_admins_at(session: AsyncSession, committee_id: int) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Assignment)
        .join(User, User.id == Assignment.user_id)
        .where(
            Assignment.committee_id == committee_id,
            Assignment.role == Role.ADMIN,
            User.is_active,
        )
    )
    return int(count or 0)


async def set_active(
    session: AsyncSession,
    actor: Actor,
    *,
    user: User,
    active: bool,
    expected_version: int | None = None,
) -> None:
    """Deactivate or reactivate; one audit row per committee the user holds a role at, so the
    admins of each of them see it. No-op if the user is already in that state."""
    if user.is_active == active:
        check_expected_version(user, expected_version)
        return
    await claim_next_version(session, user, expected_version)
    user.is_active = active
    if not active:
        # Signed out of every browser: reactivating the account later must not bring back
        # a session a lost or stolen device still holds.
        await session.execute(delete(BrowserSession).where(BrowserSession.user_id == user.id))
    held_at = (
        await session.execute(
            select(Committee.id, Committee.path)
            .join(Assignment, Assignment.committee_id == Committee.id)
            .where(Assignment.user_id == user.id)
            .order_by(Committee.id)
        )
    ).all()
    for committee_id, committee_path in held_at:
        publish_access_change(session, user, committee_id, committee_path)
        append_audit(
            session,
            actor,
            action="user.reactivate" if active else "user.deactivate",
            committee_id=committee_id,
            target_type="User",
            target_id=user.id,
            before={"active": not active},
            after={"active": active},
        )
    await session.flush()


def publish_access_change(
    session: AsyncSession, user: User, committee_id: int, committee_path: str
) -> None:
    """Tell every worker that what `user` may see changed (a role revoked, the user
    deactivated): their live subscriptions are checked again at once."""
    publish(
        session,
        ChangeKind.ACCESS,
        committee_id=committee_id,
        committee_path=committee_path,
        payload={"userId": user.id},
    )


async def committee_paths_of(session: AsyncSession, user_id: int) -> list[str]:
    """Where the user holds roles, inside and outside any one viewer's scope."""
    paths = await session.scalars(
        select(Committee.path)
        .join(Assignment, Assignment.committee_id == Committee.id)
        .where(Assignment.user_id == user_id)
    )
    return list(paths)


async def _assignment(session: AsyncSession, user_id: int, committee_id: int) -> Assignment | None:
    return await session.scalar(
        select(Assignment).where(
            Assignment.user_id == user_id, Assignment.committee_id == committee_id
        )
    )
