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

Not yet written by the writes themselves: the unit of work of issue 15 appends the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, FetchedValue, ForeignKey, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

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


def append_change(
    session: AsyncSession,
    *,
    kind: str,
    committee_id: int,
    committee_path: str,
    term_id: int | None,
    payload: dict[str, Any],
) -> ChangeFeedEntry:
    """Add a feed row to the session's transaction; flush it last, just before the commit
    (on PostgreSQL the feed's turn is held from the insert to the commit)."""
    entry = ChangeFeedEntry(
        kind=kind,
        committee_id=committee_id,
        committee_path=committee_path,
        term_id=term_id,
        payload=payload,
    )
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
