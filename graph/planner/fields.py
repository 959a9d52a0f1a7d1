"""What the planner knows about a field, declared on the field itself.

A schema field that loads data names its loading function in its metadata:

    @strawberry.field(metadata=planned(children_of))
    async def children(self, info: Info, first: int | None = None) -> Connection[Committee]:
        return (await children_of(info.context, [self], first))[0]

`children_of(context, sources, **arguments)` answers for many objects at once (every
committee of a level), one result per source, in order; the resolver is the same function
asked about one object, so the planned path and graphql-core's read the same way.

A read that can do less when it knows which fields of its result are asked says so
(`planned(read, told_selection=True)`): the planner passes `selected=`, the Python names
of those fields, fragments and directives applied; graphql-core's resolver passes nothing,
which must mean every field, with the same values.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from graph.context import Context

# (context, the objects of one level, the field's arguments by Python name) -> their values.
BatchRead = Callable[..., Awaitable[Sequence[Any]]]

PLANNED = "congress.planned"
SQL_COLUMN = "congress.sql_column"
RELAY_PART = "congress.relay_part"


class SqlRelation(Enum):
    """How a field's objects are found from its object's row, in SQL (graph/planner/sql.py)."""

    COMMITTEE = "a committee by global id or by code (a root field)"
    CHILDREN = "the committee's children, a page of them in path order"
    CONGRESS = "the committee's congress in one term"


@dataclass(frozen=True, slots=True)
class Planned:
    read: BatchRead
    sql: SqlRelation | None = None
    told_selection: bool = False


def planned(
    read: BatchRead, *, sql: SqlRelation | None = None, told_selection: bool = False
) -> Mapping[str, Planned]:
    """The metadata of a field the planner loads with `read`; with `sql`, the planner may
    instead build the field's whole answer in the database (graph/planner/sql.py); with
    `told_selection`, the read gets `selected=` (see above)."""
    return {PLANNED: Planned(read, sql, told_selection)}


@dataclass(frozen=True, slots=True)
class SqlColumn:
    """A field whose value is a column of the row its object is made from."""

    column: str
    # The column is the row id behind a Relay global id of this type.
    global_id_of: str | None = None


def sql_column(column: str, *, global_id_of: str | None = None) -> Mapping[str, SqlColumn]:
    return {SQL_COLUMN: SqlColumn(column, global_id_of)}


class RelayPart(Enum):
    """The parts of a Relay connection, which the planner can build in SQL for any node."""

    EDGES = "edges"
    NODES = "nodes"
    PAGE_INFO = "pageInfo"
    TOTAL_COUNT = "totalCount"
    CURSOR = "cursor"
    NODE = "node"
    HAS_NEXT_PAGE = "hasNextPage"
    END_CURSOR = "endCursor"


def relay_part(part: RelayPart) -> Mapping[str, RelayPart]:
    return {RELAY_PART: part}


def for_each(read_one: Callable[..., Awaitable[Any]]) -> BatchRead:
    """A batch read made of a read of one object: each object's read runs concurrently, so
    the DataLoaders they use still load the whole level in one statement."""

    async def read(context: Context, sources: Sequence[Any], **arguments: Any) -> list[Any]:
        values = await asyncio.gather(
            *(read_one(context, source, **arguments) for source in sources),
            return_exceptions=True,
        )
        # Raised once every read is over: none is left using the session after a failure.
        for value in values:
            if isinstance(value, BaseException):
                raise value
        return values

    return read
