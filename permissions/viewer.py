"""The viewer: the user behind a request, their assignments and the scope those give."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Assignment, Committee, Role, User
from models.base import MAX_KEYS_PER_STATEMENT
from models.tree import is_in_subtree
from permissions.scope import Scope


@dataclass(frozen=True, slots=True)
class Grant:
    """One assignment, with the scope root's path so no resolver has to look it up."""

    committee_id: int
    committee_path: str
    role: Role


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: int
    subject: str
    display_name: str
    grants: tuple[Grant, ...]
    scope: Scope

    def role_at(self, path: str) -> Role | None:
        """The highest role any of the viewer's assignments gives at the committee `path`."""
        roles = [grant.role for grant in self.grants if is_in_subtree(path, grant.committee_path)]
        return max(roles, key=lambda role: role.rank, default=None)

    def has_role_at(self, path: str, minimum: Role) -> bool:
        role = self.role_at(path)
        return role is not None and role.rank >= minimum.rank

    def scope_for(self, minimum: Role) -> Scope:
        """The subtrees where the viewer holds at least `minimum` (e.g. where they administer)."""
        return Scope.from_paths(
            grant.committee_path for grant in self.grants if grant.role.rank >= minimum.rank
        )


# A connection that has not signed in yet: no grants, so no scope.
NOBODY = Viewer(user_id=0, subject="", display_name="", grants=(), scope=Scope(()))


# Each assignment's committee path, looked up by the committee's primary key. As a join,
# PostgreSQL's planner chose a merge join on a tree of a million committees and walked
# the committee key from 1 up to the user's committee: 5.8 s for a user at a high id
# (bench/live.py). A correlated lookup is an index probe per assignment, whatever the ids.
_ASSIGNMENT_PATH = (
    select(Committee.path)
    .where(Committee.id == Assignment.committee_id)
    .scalar_subquery()
    .label("path")
)

# Every request starts here: the user and their assignments in one statement (a user
# without any has one row of NULL assignment columns), built once.
ACTIVE_USER_WITH_GRANTS = (
    select(User.id, User.display_name, Assignment.committee_id, _ASSIGNMENT_PATH, Assignment.role)
    .outerjoin(Assignment, Assignment.user_id == User.id)
    .where(User.subject == bindparam("subject"), User.is_active)
    .order_by(_ASSIGNMENT_PATH)
)


async def load_active_viewer(session: AsyncSession, subject: str) -> Viewer | None:
    """The active user with this identity subject, or None: logging in never creates accounts."""
    rows = (await session.execute(ACTIVE_USER_WITH_GRANTS, {"subject": subject})).all()
    return _viewer_of(subject, rows) if rows else None


async def load_active_viewers(session: AsyncSession, subjects: Iterable[str]) -> dict[str, Viewer]:
    """`load_active_viewer` for many subjects, in one statement per MAX_KEYS_PER_STATEMENT
    of them; the inactive and unknown ones are left out."""
    wanted = sorted(set(subjects))
    by_subject: dict[str, list[tuple[Any, ...]]] = {}
    for start in range(0, len(wanted), MAX_KEYS_PER_STATEMENT):
        rows = await session.execute(
            select(
                User.subject,
                User.id,
                User.display_name,
                Assignment.committee_id,
                _ASSIGNMENT_PATH,
                Assignment.role,
            )
            .outerjoin(Assignment, Assignment.user_id == User.id)
            .where(User.subject.in_(wanted[start : start + MAX_KEYS_PER_STATEMENT]), User.is_active)
            .order_by(User.subject, _ASSIGNMENT_PATH)
        )
        for row in rows:
            by_subject.setdefault(row[0], []).append(row[1:])
    return {subject: _viewer_of(subject, found) for subject, found in by_subject.items()}


def _viewer_of(subject: str, rows: Sequence[Any]) -> Viewer:
    """A viewer from its rows: (user id, name, committee id, path, role) per assignment; a
    user without any has one row of NULL assignment columns."""
    grants = tuple(
        Grant(committee_id, path, role)
        for _user_id, _name, committee_id, path, role in rows
        if committee_id is not None
    )
    user_id, display_name = rows[0][0], rows[0][1]
    return Viewer(
        user_id=user_id,
        subject=subject,
        display_name=display_name,
        grants=grants,
        scope=Scope.from_paths(grant.committee_path for grant in grants),
    )
