"""What the planner knows about a field, declared on the field itself.

A schema field that loads data names its loading function in its metadata:

    @strawberry.field(metadata=planned(children_of))
    async def children(self, info: Info, first: int | None = None) -> Connection[Committee]:
        return (await children_of(info.context, [self], first))[0]

`children_of(context, sources, **arguments)` answers for many objects at once (every
committee of a level), one result per source, in order; the resolver is the same function
asked about one object, so the planned path and graphql-core's read the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graph.context import Context

# (context, the objects of one level, the field's arguments by Python name) -> their values.
BatchRead = Callable[..., Awaitable[Sequence[Any]]]

PLANNED = "congress.planned"


@dataclass(frozen=True, slots=True)
class Planned:
    read: BatchRead


def planned(read: BatchRead) -> Mapping[str, Planned]:
    """The metadata of a field the planner loads with `read`."""
    return {PLANNED: Planned(read)}


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
