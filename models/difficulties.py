"""Difficulties (khó khăn, vướng mắc): problems a unit reports, handled at its own level or
escalated one level up at a time, to the province and then the centre.

`Difficulty` is the current state; `DifficultyEvent` its history, append-only (the database
refuses UPDATE and DELETE, see migration 0005). Every write claims the difficulty's next
version, appends its event, updates the row and appends the audit row, all in the caller's
transaction. As in `models.accounts`, who may act is checked by the caller
(graph.resolvers.difficulties); the rules of the data are checked here.

Difficulties nobody acts on for a while climb by themselves: `escalate_overdue` moves each
one a level up, recorded as an `auto_escalated` event by `AUTO_ESCALATION`. The API runs it
periodically while serving (`escalate_overdue_periodically`), cron runs
`congress escalate-overdue`; both at once are safe, because each step claims a version.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, aliased, mapped_column

from models.audit import Actor, append_audit
from models.base import Base, UtcDateTime, utc_now
from models.change_feed import ChangeKind, publish
from models.refusals import Contention, Invalid
from models.tree import Committee, path_ids, path_prefixes, require_open
from models.versions import claim_next_version

MAX_TITLE_LENGTH = 200
MAX_TEXT_LENGTH = 5000
# Who the history and the audit log name for the steps nobody took by hand.
AUTO_ESCALATION = Actor(user_id=None, subject="system:auto-escalation")
# Overdue difficulties escalated per transaction: short transactions, bounded memory.
ESCALATION_BATCH_SIZE = 500

logger = logging.getLogger("congress.escalation")


class DifficultyCategory(StrEnum):
    PERSONNEL = "personnel"
    DOCUMENTS = "documents"
    ORGANISATION = "organisation"
    FACILITIES = "facilities"
    OTHER = "other"


class DifficultyStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class DifficultyEventKind(StrEnum):
    RAISED = "raised"
    COMMENTED = "commented"
    ESCALATED = "escalated"
    AUTO_ESCALATED = "auto_escalated"
    RESOLVED = "resolved"


# Audit actions are verbs, like the rest of the log (`committee.create`, `role.grant`).
AUDIT_ACTIONS = {
    DifficultyEventKind.RAISED: "difficulty.raise",
    DifficultyEventKind.COMMENTED: "difficulty.comment",
    DifficultyEventKind.ESCALATED: "difficulty.escalate",
    DifficultyEventKind.AUTO_ESCALATED: "difficulty.auto_escalate",
    DifficultyEventKind.RESOLVED: "difficulty.resolve",
}

# What each event is in the change feed: an automatic escalation is an escalation.
FEED_KINDS = {
    DifficultyEventKind.RAISED: ChangeKind.DIFFICULTY_RAISED,
    DifficultyEventKind.COMMENTED: ChangeKind.DIFFICULTY_COMMENTED,
    DifficultyEventKind.ESCALATED: ChangeKind.DIFFICULTY_ESCALATED,
    DifficultyEventKind.AUTO_ESCALATED: ChangeKind.DIFFICULTY_ESCALATED,
    DifficultyEventKind.RESOLVED: ChangeKind.DIFFICULTY_RESOLVED,
}


def _stored_enum(enum: type[StrEnum]) -> Enum:
    """A StrEnum stored as its value in a plain string column (no database enum type)."""
    return Enum(enum, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class Difficulty(Base):
    """A reported problem and where it stands now."""

    __tablename__ = "difficulty"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Where it was raised: this decides who sees it (the subtrees containing that committee).
    committee_id: Mapped[int] = mapped_column(ForeignKey("committee.id"))
    # The level dealing with it now: the raising committee or one of its ancestors.
    handling_committee_id: Mapped[int] = mapped_column(ForeignKey("committee.id"))
    title: Mapped[str] = mapped_column(String(MAX_TITLE_LENGTH))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[DifficultyCategory] = mapped_column(_stored_enum(DifficultyCategory))
    status: Mapped[DifficultyStatus] = mapped_column(
        _stored_enum(DifficultyStatus), default=DifficultyStatus.OPEN
    )
    # Bumped by every event (models.versions), for expectedVersion.
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    raised_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    raised_by_subject: Mapped[str | None] = mapped_column(String(64))
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Raising, commenting and escalating reset it; automatic escalation counts from it.
    last_activity_at: Mapped[datetime] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolution: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        # A level's inbox: what it handles, by status, newest first.
        Index(
            "ix_difficulty_handling_committee_id_status_id", "handling_committee_id", "status", "id"
        ),
        Index("ix_difficulty_committee_id_id", "committee_id", "id"),
        # The overdue scan of automatic escalation.
        Index("ix_difficulty_status_last_activity_at", "status", "last_activity_at"),
    )

    @property
    def is_resolved(self) -> bool:
        return self.status is DifficultyStatus.RESOLVED


class DifficultyEvent(Base):
    """One step of a difficulty's history; never changed.

    `from_committee_id` / `to_committee_id` are the handling level before and after the step:
    only `to` when raised, both equal for a comment or a resolution, the two levels for an
    escalation.
    """

    __tablename__ = "difficulty_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    difficulty_id: Mapped[int] = mapped_column(ForeignKey("difficulty.id"))
    kind: Mapped[DifficultyEventKind] = mapped_column(_stored_enum(DifficultyEventKind))
    body: Mapped[str | None] = mapped_column(Text)
    from_committee_id: Mapped[int | None] = mapped_column(ForeignKey("committee.id"))
    to_committee_id: Mapped[int | None] = mapped_column(ForeignKey("committee.id"))
    # Null for the steps taken automatically.
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    actor_subject: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_difficulty_event_difficulty_id_id", "difficulty_id", "id"),)


def checked_title(title: str) -> str:
    title = " ".join(title.split())
    if not 1 <= len(title) <= MAX_TITLE_LENGTH:
        raise Invalid(f"The title must be 1-{MAX_TITLE_LENGTH} characters.", field="title")
    return title


def checked_text(text: str, *, field: str, required: bool) -> str:
    """Free text (description, comment, resolution): trimmed, at most MAX_TEXT_LENGTH."""
    text = text.strip()
    if len(text) > MAX_TEXT_LENGTH:
        raise Invalid(f"This text must be at most {MAX_TEXT_LENGTH} characters.", field=field)
    if required and not text:
        raise Invalid("This text cannot be empty.", field=field)
    return text


def _require_open(difficulty: Difficulty) -> None:
    if difficulty.is_resolved:
        raise Invalid("This difficulty is already resolved.", field="difficultyId")


def _ref(committee_id: int) -> dict[str, object]:
    """How the audit log names a committee; readers who cannot see it read null."""
    return {"committeeId": committee_id}


def _record(
    session: AsyncSession,
    actor: Actor,
    difficulty: Difficulty,
    kind: DifficultyEventKind,
    *,
    raised_at_path: str,
    at: datetime,
    body: str | None = None,
    from_committee_id: int | None = None,
    to_committee_id: int | None = None,
    before: dict[str, object] | None = None,
    after: dict[str, object] | None = None,
) -> None:
    """Append the event, its audit row (which belongs to the raising committee) and its feed
    row; the audit row's `after` always carries the version the event produced."""
    session.add(
        DifficultyEvent(
            difficulty_id=difficulty.id,
            kind=kind,
            body=body,
            from_committee_id=from_committee_id,
            to_committee_id=to_committee_id,
            actor_user_id=actor.user_id,
            actor_subject=actor.subject,
            at=at,
        )
    )
    append_audit(
        session,
        actor,
        action=AUDIT_ACTIONS[kind],
        committee_id=difficulty.committee_id,
        target_type="Difficulty",
        target_id=difficulty.id,
        before=before,
        after={"version": difficulty.version, **(after or {})},
    )
    publish(
        session,
        FEED_KINDS[kind],
        committee_id=difficulty.committee_id,
        committee_path=raised_at_path,
        payload={
            "difficultyId": difficulty.id,
            "version": difficulty.version,
            "status": difficulty.status.value,
            "handlingCommitteeId": difficulty.handling_committee_id,
            "handlingCommitteePath": _handling_path(difficulty, raised_at_path),
        },
    )


def _handling_path(difficulty: Difficulty, raised_at_path: str) -> str | None:
    """The handling level is the raising committee or one of its ancestors: its path is a
    prefix of the raising committee's (None if a later move took it out from under it)."""
    for committee_id, prefix in zip(
        path_ids(raised_at_path), path_prefixes(raised_at_path), strict=True
    ):
        if committee_id == difficulty.handling_committee_id:
            return prefix
    return None


async def _raised_at_path(session: AsyncSession, difficulty: Difficulty) -> str:
    # The committee is usually in the session already: the caller checked the role there.
    committee = await session.get(Committee, difficulty.committee_id)
    assert committee is not None, "a difficulty's committee is never deleted"
    return committee.path


async def raise_difficulty(
    session: AsyncSession,
    actor: Actor,
    *,
    committee: Committee,
    title: str,
    description: str,
    category: DifficultyCategory,
) -> Difficulty:
    """A new open difficulty at `committee`, handled there first."""
    title = checked_title(title)
    description = checked_text(description, field="description", required=False)
    require_open(committee, "committeeId")
    now = utc_now()
    difficulty = Difficulty(
        committee_id=committee.id,
        handling_committee_id=committee.id,
        title=title,
        description=description,
        category=category,
        status=DifficultyStatus.OPEN,
        version=1,
        raised_by_user_id=actor.user_id,
        raised_by_subject=actor.subject,
        raised_at=now,
        last_activity_at=now,
    )
    session.add(difficulty)
    await session.flush()
    _record(
        session,
        actor,
        difficulty,
        DifficultyEventKind.RAISED,
        raised_at_path=committee.path,
        at=now,
        to_committee_id=committee.id,
        after={
            "title": title,
            "category": category.value,
            "handlingCommittee": _ref(committee.id),
        },
    )
    await session.flush()
    return difficulty


async def comment_difficulty(
    session: AsyncSession,
    actor: Actor,
    *,
    difficulty: Difficulty,
    body: str,
    expected_version: int | None = None,
) -> None:
    body = checked_text(body, field="body", required=True)
    _require_open(difficulty)
    await claim_next_version(session, difficulty, expected_version)
    now = utc_now()
    difficulty.last_activity_at = now
    handling = difficulty.handling_committee_id
    _record(
        session,
        actor,
        difficulty,
        DifficultyEventKind.COMMENTED,
        raised_at_path=await _raised_at_path(session, difficulty),
        at=now,
        body=body,
        from_committee_id=handling,
        to_committee_id=handling,
        after={"comment": body},
    )
    await session.flush()


async def escalate_difficulty(
    session: AsyncSession,
    actor: Actor,
    *,
    difficulty: Difficulty,
    expected_version: int | None = None,
) -> None:
    """Hand the difficulty to the parent of the level handling it; the top level cannot."""
    _require_open(difficulty)
    parent_id = await session.scalar(
        select(Committee.parent_id).where(Committee.id == difficulty.handling_committee_id)
    )
    if parent_id is None:
        raise Invalid(
            "This difficulty is handled at the top level; it cannot be escalated further.",
            field="difficultyId",
        )
    await claim_next_version(session, difficulty, expected_version)
    raised_at_path = await _raised_at_path(session, difficulty)
    _move_up(
        session, actor, difficulty, parent_id, DifficultyEventKind.ESCALATED, utc_now(),
        raised_at_path,
    )  # fmt: skip
    await session.flush()


def _move_up(
    session: AsyncSession,
    actor: Actor,
    difficulty: Difficulty,
    parent_id: int,
    kind: DifficultyEventKind,
    now: datetime,
    raised_at_path: str,
) -> None:
    """The escalation itself, once the version is claimed."""
    from_id = difficulty.handling_committee_id
    difficulty.handling_committee_id = parent_id
    difficulty.last_activity_at = now
    _record(
        session,
        actor,
        difficulty,
        kind,
        raised_at_path=raised_at_path,
        at=now,
        from_committee_id=from_id,
        to_committee_id=parent_id,
        before={"handlingCommittee": _ref(from_id)},
        after={"handlingCommittee": _ref(parent_id)},
    )


async def resolve_difficulty(
    session: AsyncSession,
    actor: Actor,
    *,
    difficulty: Difficulty,
    resolution: str,
    expected_version: int | None = None,
) -> None:
    resolution = checked_text(resolution, field="resolution", required=True)
    _require_open(difficulty)
    await claim_next_version(session, difficulty, expected_version)
    now = utc_now()
    difficulty.status = DifficultyStatus.RESOLVED
    difficulty.resolved_at = now
    difficulty.resolution = resolution
    handling = difficulty.handling_committee_id
    _record(
        session,
        actor,
        difficulty,
        DifficultyEventKind.RESOLVED,
        raised_at_path=await _raised_at_path(session, difficulty),
        at=now,
        body=resolution,
        from_committee_id=handling,
        to_committee_id=handling,
        before={"status": DifficultyStatus.OPEN.value},
        after={"status": DifficultyStatus.RESOLVED.value, "resolution": resolution},
    )
    await session.flush()


async def escalate_overdue(
    session: AsyncSession,
    now: datetime,
    *,
    older_than: timedelta,
    batch_size: int = ESCALATION_BATCH_SIZE,
) -> int:
    """Escalate by one level every open difficulty with no activity for `older_than` before
    `now` whose handling committee has a parent; return how many moved.

    Commits after each batch. Another process doing the same at the same time is harmless:
    a difficulty it moved first no longer has the version read here, so it is skipped, and
    its `last_activity_at` was reset, so the next run leaves it alone too.
    """
    now = now.astimezone(UTC)
    threshold = now - older_than
    raised_at = aliased(Committee)
    escalated = 0
    after_id = 0
    while True:
        rows = (
            await session.execute(
                select(Difficulty, Committee.parent_id, raised_at.path)
                .join(Committee, Committee.id == Difficulty.handling_committee_id)
                .join(raised_at, raised_at.id == Difficulty.committee_id)
                .where(
                    Difficulty.status == DifficultyStatus.OPEN,
                    Difficulty.last_activity_at <= threshold,
                    Committee.parent_id.is_not(None),
                    Difficulty.id > after_id,
                )
                .order_by(Difficulty.id)
                .limit(batch_size)
                .execution_options(populate_existing=True)
            )
        ).all()
        if not rows:
            return escalated
        for difficulty, parent_id, raised_at_path in rows:
            assert parent_id is not None, "the query keeps only levels with a parent"
            try:
                await claim_next_version(session, difficulty, None)
            except Contention:
                continue  # someone acted on it since it was read: it is not overdue any more
            _move_up(
                session,
                AUTO_ESCALATION,
                difficulty,
                parent_id,
                DifficultyEventKind.AUTO_ESCALATED,
                now,
                raised_at_path,
            )
            escalated += 1
        after_id = rows[-1][0].id
        await session.commit()


async def escalate_overdue_periodically(
    sessions: async_sessionmaker[AsyncSession], *, interval_seconds: float, older_than: timedelta
) -> None:
    """Run `escalate_overdue` now and then every `interval_seconds`, until cancelled.

    A failed run (the database briefly unreachable, a lock) is logged and the next one tried:
    this runs beside the API and must never take it down.
    """
    while True:
        try:
            async with sessions() as session:
                escalated = await escalate_overdue(session, utc_now(), older_than=older_than)
            if escalated:
                logger.info("escalated %d overdue difficulties", escalated)
        except Exception:
            logger.exception("automatic escalation failed; next try in %s s", interval_seconds)
        await asyncio.sleep(interval_seconds)
