"""The change feed: one append-only row for every committed change a reader could see, in
the order the changes committed, for live updates (DESIGN.md, the change feed).

A reader that has seen every row up to position C and asks for the rows after C must
never miss one, even when two transactions take positions in one order and commit in the
other. So a position is drawn only by a transaction that holds the feed's turn until it
commits, and the database enforces it:

- PostgreSQL: a BEFORE INSERT trigger takes a transaction-level advisory lock and then
  draws the position from a sequence. The lock is released after the commit is visible,
  so the next writer's position is higher than every committed one and a row with a lower
  position can never appear after a higher one was read. Writers append feed rows last in
  their transaction, so the lock is held from the append to the commit only.
- SQLite: one writer at a time, so the rowid order (AUTOINCREMENT: never reused) is the
  commit order.

The writes publish their changes as they make them (`publish`, next to the event or
audit row they append), and the rows are inserted when the session commits, after
everything else the transaction wrote: whoever commits (the unit of work, a batch, a
background job, the CLI), nothing published is forgotten and nothing rolled back is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    FetchedValue,
    ForeignKey,
    Integer,
    String,
    event,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

from models.base import Base, PathString, UtcDateTime, utc_now

# The advisory lock that orders the feed on PostgreSQL, next to the tree's (TREE_LOCK_KEY).
FEED_LOCK_KEY = 7_300_002


class ChangeFeedEntry(Base):
    __tablename__ = "change_feed"

    # Drawn by the database as the row is inserted (see above), never by the writer.
    position: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
        server_default=FetchedValue(),
    )
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    kind: Mapped[str] = mapped_column(String(32))
    committee_id: Mapped[int] = mapped_column(ForeignKey("committee.id"))
    # The committee's path when the change was made: who may see the row (scope).
    committee_path: Mapped[str] = mapped_column(PathString)
    term_id: Mapped[int | None] = mapped_column(ForeignKey("term.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = ({"sqlite_autoincrement": True},)


class ChangeKind(StrEnum):
    """What a feed row says happened. All but the last two are what officials follow live
    (`progressEvents`); the last two tell each worker to look again at who sees what."""

    MILESTONE = "MILESTONE"
    RESULTS = "RESULTS"
    DEADLINE = "DEADLINE"
    DIFFICULTY_RAISED = "DIFFICULTY_RAISED"
    DIFFICULTY_COMMENTED = "DIFFICULTY_COMMENTED"
    DIFFICULTY_ESCALATED = "DIFFICULTY_ESCALATED"
    DIFFICULTY_RESOLVED = "DIFFICULTY_RESOLVED"
    # A role revoked, a user deactivated: their subscriptions are checked again.
    # A congress's report submitted, approved, returned or reopened (models/reports.py).
    REPORT_SUBMITTED = "REPORT_SUBMITTED"
    REPORT_APPROVED = "REPORT_APPROVED"
    REPORT_RETURNED = "REPORT_RETURNED"
    REPORT_REOPENED = "REPORT_REOPENED"
    ACCESS = "ACCESS"
    # A committee created, renamed, moved, merged or closed: paths may have changed.
    TREE = "TREE"


_PUBLISHED = "congress.published_changes"


def publish(
    session: AsyncSession | Session,
    kind: ChangeKind,
    *,
    committee_id: int,
    committee_path: str,
    term_id: int | None = None,
    payload: dict[str, Any],
) -> None:
    """A change the session's transaction makes, appended to the feed when it commits."""
    sync_session = session.sync_session if isinstance(session, AsyncSession) else session
    sync_session.info.setdefault(_PUBLISHED, []).append(
        _feed_row(kind.value, committee_id, committee_path, term_id, payload)
    )


def _feed_row(
    kind: str, committee_id: int, committee_path: str, term_id: int | None, payload: dict[str, Any]
) -> dict[str, Any]:
    """The columns of one feed row (its position is the database's to draw)."""
    return {
        "kind": kind,
        "committee_id": committee_id,
        "committee_path": committee_path,
        "term_id": term_id,
        "payload": payload,
        "recorded_at": utc_now(),
    }


@event.listens_for(Session, "before_commit")
def _append_published(session: Session) -> None:
    """The published rows, last in the transaction: everything else is flushed first, so
    on PostgreSQL the feed's turn is held only from here to the commit."""
    published = session.info.pop(_PUBLISHED, None)
    if not published:
        return
    session.flush()
    session.execute(insert(ChangeFeedEntry), published)


@event.listens_for(Session, "after_transaction_end")
def _forget_published(session: Session, transaction: SessionTransaction) -> None:
    """A transaction ended without its rows (rolled back, or closed): nothing published in
    it may reach the next one. (No write uses savepoints; one that did would need to drop
    what it published inside a savepoint rolled back.)"""
    if transaction.parent is None:
        session.info.pop(_PUBLISHED, None)


def append_change(
    session: AsyncSession,
    *,
    kind: str,
    committee_id: int,
    committee_path: str,
    term_id: int | None,
    payload: dict[str, Any],
) -> ChangeFeedEntry:
    """A feed row added to the session now, taking the feed's turn (PostgreSQL) at its
    next flush. Writes use `publish`, which appends at the commit; this is for tests that
    must hold a position open (tests/test_change_feed.py, tests/test_live.py)."""
    entry = ChangeFeedEntry(**_feed_row(kind, committee_id, committee_path, term_id, payload))
    session.add(entry)
    return entry


async def changes_after(
    session: AsyncSession, position: int, limit: int
) -> Sequence[ChangeFeedEntry]:
    """The committed rows after `position`, in feed order, at most `limit`."""
    found = await session.scalars(
        select(ChangeFeedEntry)
        .where(ChangeFeedEntry.position > position)
        .order_by(ChangeFeedEntry.position)
        .limit(limit)
    )
    return found.all()


def congress_change(
    congress_id: int, version: int, status: StrEnum, **details: object
) -> dict[str, object]:
    """A feed row's payload for a change to a congress: what a live reader shows without
    reading anything (the congress's new version and status, and what changed)."""
    return {"congressId": congress_id, "version": version, "status": status.value, **details}
