"""Terms, their milestone templates, and the congress each committee holds once per term."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class Term(Base):
    """A congress cycle such as `2025-2030` (nhiệm kỳ)."""

    __tablename__ = "term"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    is_current: Mapped[bool] = mapped_column(default=False)
    # A committee's report waits until every child's report is approved.
    require_children_approved: Mapped[bool] = mapped_column(default=False, server_default=false())


class MilestoneTemplate(Base):
    """One ordered step of a term's congresses; the list is data, not an enum in code."""

    __tablename__ = "milestone_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    term_id: Mapped[int] = mapped_column(ForeignKey("term.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    position: Mapped[int]
    prerequisite_code: Mapped[str | None] = mapped_column(String(64))
    # The step that means "the congress took place": results may be recorded after it, and
    # a congress counts as held (not overdue) from its date.
    marks_held: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Must be done before the congress's report can be submitted (models/reports.py).
    required: Mapped[bool] = mapped_column(default=True, server_default=true())

    __table_args__ = (
        UniqueConstraint("term_id", "code"),
        UniqueConstraint("term_id", "position"),
    )


class ReportDeadline(Base):
    """When the reports of one level of the tree are due to the level above, in a term: a
    report at that depth not approved by then is overdue (`reports { overdue }`)."""

    __tablename__ = "report_deadline"

    term_id: Mapped[int] = mapped_column(ForeignKey("term.id"), primary_key=True)
    # Absolute depth in the tree (the root is 1), as `setDeadline(depth:)` takes it.
    depth: Mapped[int] = mapped_column(primary_key=True)
    due_on: Mapped[date]


class CongressStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    HELD = "held"
    COMPLETED = "completed"


class MilestoneStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DONE = "done"


class Congress(Base):
    """The assembly a committee holds once per term (đại hội)."""

    __tablename__ = "congress"

    id: Mapped[int] = mapped_column(primary_key=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("committee.id"))
    term_id: Mapped[int] = mapped_column(ForeignKey("term.id"), index=True)
    deadline: Mapped[date | None]
    # Current state, derived from the congress's events in the same transaction as each one.
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    status: Mapped[CongressStatus] = mapped_column(
        Enum(
            CongressStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=CongressStatus.NOT_STARTED,
        server_default=CongressStatus.NOT_STARTED.value,
    )
    held_on: Mapped[date | None]

    __table_args__ = (
        UniqueConstraint("committee_id", "term_id"),
        # overdueCongresses: a term's open deadlines in date order.
        Index("ix_congress_term_id_deadline", "term_id", "deadline"),
    )


# The template a new term starts with: (code, name); each step requires the one before it.
DEFAULT_MILESTONES: tuple[tuple[str, str], ...] = (
    ("plan_issued", "Kế hoạch đại hội được ban hành"),
    ("documents_drafted", "Dự thảo văn kiện"),
    ("documents_commented", "Lấy ý kiến dự thảo văn kiện"),
    ("personnel_plan_approved", "Phương án nhân sự được phê duyệt"),
    ("congress_held", "Tiến hành đại hội"),
    ("results_reported", "Báo cáo kết quả đại hội"),
)


HELD_MILESTONE = "congress_held"


def default_milestone_templates(term_id: int) -> list[MilestoneTemplate]:
    templates = []
    previous_code: str | None = None
    for position, (code, name) in enumerate(DEFAULT_MILESTONES, start=1):
        templates.append(
            MilestoneTemplate(
                term_id=term_id,
                code=code,
                name=name,
                position=position,
                prerequisite_code=previous_code,
                marks_held=code == HELD_MILESTONE,
            )
        )
        previous_code = code
    return templates
