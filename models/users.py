"""Officials and their assignments (user, committee, role)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime, utc_now


class Role(StrEnum):
    """Ordered: each role may do everything the ones before it may."""

    VIEWER = "viewer"
    REPORTER = "reporter"
    # Also decides on the reports of the committees below (models/reports.py).
    APPROVER = "approver"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class User(Base):
    """An official, known by the identity provider's subject (a personal identification number)."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(255))
    # search_key(display_name), for accent-insensitive search.
    search_name: Mapped[str] = mapped_column(String(255), default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    # Bumped by every change to the account or its roles (models.versions).
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class Assignment(Base):
    """A user's role at one committee; it covers that committee's whole subtree."""

    __tablename__ = "assignment"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    committee_id: Mapped[int] = mapped_column(ForeignKey("committee.id"), index=True)
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

    __table_args__ = (UniqueConstraint("user_id", "committee_id"),)
