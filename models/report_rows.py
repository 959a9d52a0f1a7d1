"""The table of congresses' reports and their states (the lifecycle: models/reports.py).
Apart from the logic so that the rollups, which count reports by state, can read it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import Enum, ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column, synonym

from models.base import Base, UtcDateTime


class ReportState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    RETURNED = "returned"
    REOPENED = "reopened"


# While a report is in one of these, its congress's milestones, results and deadline stay
# as the level above counted them.
LOCKING_STATES = frozenset({ReportState.SUBMITTED, ReportState.APPROVED})
# The version of a report that has no row yet.
FIRST_VERSION = 1


class CongressReport(Base):
    __tablename__ = "congress_report"
    # How a stale expectedVersion names it (models/versions.py).
    noun: ClassVar[str] = "report"

    congress_id: Mapped[int] = mapped_column(ForeignKey("congress.id"), primary_key=True)
    # `id` as every versioned row has it (models/versions.py claims versions by `id`).
    id: Mapped[int] = synonym("congress_id")
    state: Mapped[ReportState] = mapped_column(
        Enum(
            ReportState,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=ReportState.DRAFT,
    )
    version: Mapped[int] = mapped_column(default=FIRST_VERSION)
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    submitted_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    # Why it was returned or reopened.
    reason: Mapped[str | None] = mapped_column(Text)
