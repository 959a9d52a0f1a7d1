"""Terms and their milestone templates, read once every few seconds per process, not per request.

Every summary, congress and milestone list names a term (the current one unless asked
otherwise) and walks its template (its milestones and its levels' report deadlines); that is two statements on each request for a few rows
that change once in five years, when a new term is opened: two of the seven statements a
summary took. The catalog keeps every term and
template (a handful of rows) and reads them again when they are `max_age_seconds` old,
so a new or switched term shows in reads within that time in every worker. Writes never
use it: they read the term in their own transaction.

The catalog reads with the session of the request that found it old, never a connection
of its own: requests waiting for it hold their connections, and a read needing one more
could wait for a pool they have emptied. The objects are transient (attached to no
session), so no commit can expire them under a request.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from models import MilestoneTemplate, ReportDeadline, Term

DEFAULT_MAX_AGE_SECONDS = 10.0
# What one read of the catalog costs: the terms, the milestone templates, the report deadlines.
STATEMENTS_PER_READ = 3


@dataclass(frozen=True, slots=True)
class TermSnapshot:
    terms: Sequence[Term]
    templates: dict[int, list[MilestoneTemplate]]
    # Term id -> its levels' report deadlines, top level first.
    report_deadlines: dict[int, list[ReportDeadline]]

    @property
    def current(self) -> Term | None:
        """The current term; the latest to start if several are marked current."""
        current = [term for term in self.terms if term.is_current]
        return max(current, key=lambda term: term.starts_on, default=None)

    def named(self, code: str) -> Term | None:
        return next((term for term in self.terms if term.code == code), None)

    def named_or_current(self, code: str | None) -> Term | None:
        """The term with this code, or the current term when none is named."""
        return self.current if code is None else self.named(code)

    def templates_of(self, term_id: int) -> list[MilestoneTemplate]:
        """The term's milestone templates in order ([] for an unknown term)."""
        return self.templates.get(term_id, [])

    def report_deadlines_of(self, term_id: int) -> list[ReportDeadline]:
        """When each level's reports are due in the term ([] when none is set)."""
        return self.report_deadlines.get(term_id, [])


class TermCatalog:
    def __init__(
        self,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_age_seconds = max_age_seconds
        self._clock = clock
        self._snapshot: TermSnapshot | None = None
        self._read_at = 0.0
        # The read in progress, if any: the thousands of nodes of one big page (or many
        # requests) finding the catalog old all wait for one read, and all wake together,
        # so their DataLoaders still batch.
        self._reading: asyncio.Task[TermSnapshot] | None = None

    async def snapshot(self, session: AsyncSession) -> TermSnapshot:
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        reading = self._reading
        if reading is None:
            reading = self._reading = asyncio.get_running_loop().create_task(
                self._read_for_all(session)
            )
            # Shielded: the request that started the read giving up must not cancel it
            # for the others.
            return await asyncio.shield(reading)
        try:
            return await asyncio.shield(reading)
        except Exception:
            # The read of another request failed (its session may have closed under it):
            # read with this one's.
            return await self._read(session)

    async def _read_for_all(self, session: AsyncSession) -> TermSnapshot:
        try:
            return await self._read(session)
        finally:
            self._reading = None

    async def _read(self, session: AsyncSession) -> TermSnapshot:
        read_at = self._clock()
        snapshot = await _read_terms(session)
        self._snapshot, self._read_at = snapshot, read_at
        return snapshot

    def _fresh(self) -> TermSnapshot | None:
        if self._snapshot is None or self._clock() - self._read_at >= self._max_age_seconds:
            return None
        return self._snapshot


async def _read_terms(session: AsyncSession) -> TermSnapshot:
    term_rows = await session.execute(select(*Term.__table__.columns))
    terms = [Term(**row._mapping) for row in term_rows]
    templates = await _by_term(session, MilestoneTemplate, MilestoneTemplate.position)
    report_deadlines = await _by_term(session, ReportDeadline, ReportDeadline.depth)
    return TermSnapshot(terms, templates, report_deadlines)


Row = TypeVar("Row", MilestoneTemplate, ReportDeadline)


async def _by_term(
    session: AsyncSession, model: type[Row], order: InstrumentedAttribute[int]
) -> dict[int, list[Row]]:
    """A term's rows of `model` (a table with `term_id`), in `order`, term by term."""
    rows = await session.execute(
        select(*model.__table__.columns).order_by(model.__table__.c.term_id, order)
    )
    by_term: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        by_term[row.term_id].append(model(**row._mapping))
    return dict(by_term)
