"""Creating officials' accounts and their assignments."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from models.users import Assignment, Role, User


async def add_user(
    session: AsyncSession,
    subject: str,
    display_name: str,
    assignments: Iterable[tuple[int, Role]] = (),
    *,
    is_active: bool = True,
) -> User:
    """Add a user with (committee id, role) assignments; the caller commits."""
    user = User(subject=subject, display_name=display_name, is_active=is_active)
    session.add(user)
    await session.flush()
    session.add_all(
        Assignment(user_id=user.id, committee_id=committee_id, role=role)
        for committee_id, role in assignments
    )
    await session.flush()
    return user
