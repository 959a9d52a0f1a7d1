"""The audit log: append-only rows written in the same transaction as the change they record.

Updates and deletes are refused by the database itself (triggers created by the migration),
so no code path, present or future, can rewrite history.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime, utc_now


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    # Null for a refused login, where nobody is signed in.
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    actor_subject: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    # The committee the entry belongs to; it decides who may read it. Null: tree-wide
    # (refused logins), readable by admins of a root.
    committee_id: Mapped[int | None] = mapped_column(ForeignKey("committee.id"))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[int | None]
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_audit_log_committee_id_id", "committee_id", "id"),)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who does an action: a signed-in user (with the request id), or an operator at the CLI."""

    user_id: int | None
    subject: str | None
    request_id: str | None = None

    @classmethod
    def command_line(cls) -> Actor:
        return cls(user_id=None, subject=f"cli:{getpass.getuser()}")


def audit_values(
    actor: Actor,
    *,
    action: str,
    committee_id: int | None,
    target_type: str | None = None,
    target_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The columns of one audit row."""
    return {
        "action": action,
        "actor_user_id": actor.user_id,
        "actor_subject": actor.subject,
        "committee_id": committee_id,
        "target_type": target_type,
        "target_id": target_id,
        "before": before,
        "after": after,
        "request_id": actor.request_id,
    }


def append_audit(
    session: AsyncSession,
    actor: Actor,
    *,
    action: str,
    committee_id: int | None,
    target_type: str | None = None,
    target_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit row to the session's current transaction; it commits with the change."""
    entry = AuditEntry(
        **audit_values(
            actor,
            action=action,
            committee_id=committee_id,
            target_type=target_type,
            target_id=target_id,
            before=before,
            after=after,
        )
    )
    session.add(entry)
    return entry


async def append_audits(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Many rows of `audit_values` in one statement, in the current transaction."""
    if rows:
        await session.execute(insert(AuditEntry), rows)
