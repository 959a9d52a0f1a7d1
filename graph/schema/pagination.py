"""Relay connection types, generic over the node type (CommitteeConnection, ...)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry

from graph.context import Context
from graph.planner.fields import RelayPart, planned, relay_part
from graph.resolvers.pagination import Page, encode_cursor

NodeType = TypeVar("NodeType")
RowType = TypeVar("RowType")


@strawberry.type
class PageInfo:
    has_next_page: bool = strawberry.field(metadata=relay_part(RelayPart.HAS_NEXT_PAGE))
    end_cursor: str | None = strawberry.field(metadata=relay_part(RelayPart.END_CURSOR))


@strawberry.type
class Edge(Generic[NodeType]):
    cursor: str = strawberry.field(metadata=relay_part(RelayPart.CURSOR))
    node: NodeType = strawberry.field(metadata=relay_part(RelayPart.NODE))


async def _total_counts(_context: Context, connections: Sequence[Connection[Any]]) -> list[int]:
    # Counts that go through a DataLoader (children, history) share one statement per level.
    # Every count ends before a failure is raised, so none is left using the session.
    counts = await asyncio.gather(
        *(connection.count_query() for connection in connections), return_exceptions=True
    )
    for count in counts:
        if isinstance(count, BaseException):
            raise count
    return [count for count in counts if not isinstance(count, BaseException)]


@strawberry.type
class Connection(Generic[NodeType]):
    edges: list[Edge[NodeType]] = strawberry.field(metadata=relay_part(RelayPart.EDGES))
    nodes: list[NodeType] = strawberry.field(metadata=relay_part(RelayPart.NODES))
    page_info: PageInfo = strawberry.field(metadata=relay_part(RelayPart.PAGE_INFO))
    count_query: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(
        description="All items this connection pages through, not just this page.",
        metadata={**planned(_total_counts), **relay_part(RelayPart.TOTAL_COUNT)},
    )
    async def total_count(self) -> int:
        return await self.count_query()


def connection_from_page(
    page: Page[RowType], to_node: Callable[[RowType], NodeType], row_id: Callable[[RowType], int]
) -> Connection[NodeType]:
    edges = [Edge(cursor=encode_cursor(row_id(row)), node=to_node(row)) for row in page.rows]
    return Connection(
        edges=edges,
        nodes=[edge.node for edge in edges],
        page_info=PageInfo(
            has_next_page=page.has_next_page, end_cursor=edges[-1].cursor if edges else None
        ),
        count_query=page.total_count,
    )
