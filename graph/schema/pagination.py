"""Relay connection types, generic over the node type (CommitteeConnection, ...)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry

from graph.context import Context
from graph.planner.fields import planned
from graph.resolvers.pagination import Page, encode_cursor

NodeType = TypeVar("NodeType")
RowType = TypeVar("RowType")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeType]):
    cursor: str
    node: NodeType


async def _total_counts(_context: Context, connections: Sequence[Connection[Any]]) -> list[int]:
    # Each count goes through a DataLoader, so the counts of a level still share a statement.
    return list(await asyncio.gather(*(connection.count_query() for connection in connections)))


@strawberry.type
class Connection(Generic[NodeType]):
    edges: list[Edge[NodeType]]
    nodes: list[NodeType]
    page_info: PageInfo
    count_query: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(
        description="All items this connection pages through, not just this page.",
        metadata=planned(_total_counts),
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
