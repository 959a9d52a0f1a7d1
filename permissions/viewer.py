"""The viewer: the user behind a request, their assignments and the scope those give."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Assignment, Committee, Role, User
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


async def load_active_viewer(session: AsyncSession, subject: str) -> Viewer | None:
    """The active user with this identity subject, or None: logging in never creates accounts."""
    user = await session.scalar(select(User).where(User.subject == subject, User.is_active))
    if user is None:
        return None
    grant_rows = await session.execute(
        select(Assignment.committee_id, Committee.path, Assignment.role)
        .join(Committee, Committee.id == Assignment.committee_id)
        .where(Assignment.user_id == user.id)
        .order_by(Committee.path)
    )
    grants = tuple(Grant(committee_id, path, role) for committee_id, path, role in grant_rows)
    return Viewer(
        user_id=user.id,
        subject=user.subject,
        display_name=user.display_name,
        grants=grants,
        scope=Scope.from_paths(grant.committee_path for grant in grants),
    )
