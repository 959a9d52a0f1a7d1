"""The GraphQL schema: types, inputs, errors and the root operations."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import aclosing
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.query_depth_limiter import create_validator
from strawberry.schema.schema import StreamResult
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from config import Environment, Settings
from graph.errors import (
    AnswerDatabaseFaults,
    ClientError,
    MaskUnexpectedErrors,
    log_unexpected_errors,
)
from graph.observability.metrics import record_graphql_errors
from graph.planner.executor import PlannedExecutor
from graph.schema.committee import Committee, Congress
from graph.schema.difficulty_root import DifficultyMutations, DifficultyQueries
from graph.schema.errors import ERROR_TYPES
from graph.schema.introspection import IntrospectionAccess
from graph.schema.limits import OperationCosts, OperationLimits
from graph.schema.live import Subscription
from graph.schema.mutation import Mutation
from graph.schema.node_budget import NodeBudget
from graph.schema.progress_reports import ProgressQueries
from graph.schema.progress_root import ProgressMutations
from graph.schema.query import Query
from graph.schema.streams import StreamsCarrySubscriptionsOnly
from graph.schema.user import User

# Each area of the API contributes its root fields; the schema merges them.
# Distinct query documents whose parse and validation are kept.
DOCUMENT_CACHE_SIZE = 256

QUERY_PARTS: tuple[type, ...] = (Query, DifficultyQueries, ProgressQueries)
MUTATION_PARTS: tuple[type, ...] = (Mutation, ProgressMutations, DifficultyMutations)


class CongressSchema(strawberry.Schema):
    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> StreamResult:
        results = await super().stream(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            operation_extensions,
            allowed_operation_types,
        )
        return _client_errors_answered(results)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_unexpected_errors(errors, execution_context)
        # The request's outcome in the metrics is "error" when its answer carries errors.
        record_graphql_errors()


async def _client_errors_answered(results: StreamResult) -> StreamResult:
    """A client's mistake that an extension finds before execution (a limit, a query over a
    websocket) is answered on HTTP; on a stream strawberry would end the operation without
    a word. Here it is the operation's error, with its code."""
    try:
        async with aclosing(results):
            async for result in results:
                yield result
    except ClientError as error:
        yield PreExecutionError(data=None, errors=[error])


def build_schema(settings: Settings) -> strawberry.Schema:
    # One rule for the life of the schema: the validation cache is keyed by the rules, so a
    # rule made per request (as QueryDepthLimiter does) would never hit it.
    depth_rule = create_validator(settings.max_query_depth, should_ignore=None)
    # One budget per schema, so per process: what its queries may hold in memory at once.
    budget = NodeBudget(settings.max_nodes_in_flight)
    costs = OperationCosts(maxsize=DOCUMENT_CACHE_SIZE)
    # Factories, not instances: strawberry builds fresh extensions for every request.
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: IntrospectionAccess(access=settings.introspection),
        StreamsCarrySubscriptionsOnly,
        # The document's length is judged before it is parsed, its cost before it is
        # validated.
        lambda: OperationLimits(
            max_document_chars=settings.max_document_chars,
            max_mutations=settings.max_mutations,
            max_nodes=settings.max_query_nodes,
            max_cost=settings.max_query_cost,
            default_page_size=settings.default_page_size,
            budget=budget,
            counted=costs,
        ),
        # Parsing and validating a document cost more than answering a small query; clients
        # send the same few documents over and over. Bounded, so unique texts cannot grow it.
        lambda: ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
        lambda: AddValidationRules([depth_rule]),
        lambda: ValidationCache(maxsize=DOCUMENT_CACHE_SIZE),
        AnswerDatabaseFaults,
    ]
    if settings.environment is Environment.PRODUCTION:
        extensions.append(MaskUnexpectedErrors)
    return CongressSchema(
        query=merge_types("Query", QUERY_PARTS),
        mutation=merge_types("Mutation", MUTATION_PARTS),
        subscription=Subscription,
        types=[Committee, Congress, User, *ERROR_TYPES],
        extensions=extensions,
        execution_context_class=PlannedExecutor,
    )
