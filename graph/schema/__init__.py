"""The GraphQL schema: types, inputs, errors and the root operations."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from strawberry.extensions import MaskErrors, QueryDepthLimiter, SchemaExtension

from config import Environment, Settings
from graph.errors import is_client_error
from graph.schema.committee import Committee, Congress
from graph.schema.node_limit import NodeLimit
from graph.schema.query import Query


def build_schema(settings: Settings) -> strawberry.Schema:
    # Factories, not instances: strawberry builds fresh extensions for every request.
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
        lambda: NodeLimit(
            max_nodes=settings.max_query_nodes, default_page_size=settings.default_page_size
        ),
    ]
    if settings.environment is Environment.PRODUCTION:
        extensions.append(
            lambda: MaskErrors(should_mask_error=lambda error: not is_client_error(error))
        )
    return strawberry.Schema(query=Query, types=[Committee, Congress], extensions=extensions)
