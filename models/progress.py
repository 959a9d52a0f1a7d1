"""What officials record about a congress: events (append-only) and the state derived from them.

Every write appends a `CongressEvent` with the congress's next version; the current state
(`CongressMilestone`, `CongressResult`, `Congress.status/held_on/version`) is updated from
it in the same transaction, so reading the state never replays history and history is
never lost: a correction is one more event.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime, utc_now
from models.congress import MilestoneStatus


class CongressEvent(Base):
    __tablename__ = "congress_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    congress_id: Mapped[int] = mapped_column(ForeignKey("congress.id"))
    version: Mapped[int]
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    recorded_by_subject: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    request_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("congress_id", "version"),
        # recentProgress: a congress's events newest first.
        Index("ix_congress_event_congress_id_id", "congress_id", "id"),
    )


class CongressMilestone(Base):
    """The current state of one milestone of one congress."""

    __tablename__ = "congress_milestone"

    congress_id: Mapped[int] = mapped_column(ForeignKey("congress.id"), primary_key=True)
    milestone_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[MilestoneStatus] = mapped_column(
        Enum(
            MilestoneStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    occurred_on: Mapped[date | None]
    note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    recorded_by_subject: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CongressResult(Base):
    """The current results of a congress."""

    __tablename__ = "congress_result"

    congress_id: Mapped[int] = mapped_column(ForeignKey("congress.id"), primary_key=True)
    delegates_expected: Mapped[int]
    delegates_present: Mapped[int]
    members_elected: Mapped[int]
    women: Mapped[int]
    under_40: Mapped[int]
    ethnic_minority: Mapped[int]
    secretary_directly_elected: Mapped[bool]
    delegates_to_higher_congress: Mapped[int]
    version: Mapped[int]
    recorded_by_subject: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class IdempotencyRecord(Base):
    """The first answer to a request sent with an idempotency key, per user and key."""

    __tablename__ = "idempotency_record"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    operation: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
