"""The root queries over a subtree's progress: what is late, and what happened lately."""

from __future__ import annotations

import strawberry

from graph.context import Context, Info
from graph.planner.fields import for_each, planned
from graph.resolvers import progress_summary as resolve
from graph.schema.committee import Congress
from graph.schema.pagination import Connection, connection_from_page
from graph.schema.progress import CongressHistoryEvent
from models import Congress as CongressRow
from models import CongressEvent as CongressEventRow


async def _overdue_congresses(
    context: Context,
    _root: None,
    under: strawberry.ID,
    term: str | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Connection[Congress]:
    page, term_row = await resolve.overdue_congresses(context, under, term, first, after)
    return connection_from_page(page, lambda row: Congress.from_row(row, term_row), _congress_id)


@strawberry.type
class ProgressQueries:
    @strawberry.field(
        description="Congresses below `under` (itself included) past their deadline and not "
        "held, in a term (the current one if omitted): the most days late first.",
        metadata=planned(for_each(_overdue_congresses)),
    )
    async def overdue_congresses(
        self,
        info: Info,
        under: strawberry.ID,
        term: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Congress]:
        return await _overdue_congresses(info.context, None, under, term, first, after)

    @strawberry.field(
        description="What was recorded on the congresses below `under` (itself included), "
        "newest first."
    )
    async def recent_progress(
        self,
        info: Info,
        under: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[CongressHistoryEvent]:
        page = await resolve.recent_progress(info.context, under, first, after)
        return connection_from_page(page, CongressHistoryEvent.from_row, _event_id)


def _congress_id(row: CongressRow) -> int:
    return row.id


def _event_id(row: CongressEventRow) -> int:
    return row.id
