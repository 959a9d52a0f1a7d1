"""Refuse operations that would take too much, before they run.

Judged in order, each refusal a `COST_LIMIT` error carrying the limit and what was asked:
the document's length, before it is parsed (parsing 700 KB of aliases costs a second);
then, before it is validated, the operation's root mutation fields, the objects it can
return and its cost (graph/schema/cost.py). An operation within the limits is then
charged its cost to its user's rate limit (graph/rate_limits/), refused with
`RATE_LIMITED` when that is spent, and a query reserves its worst case of objects from the
process's NodeBudget (graph/schema/node_budget.py) while it runs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import (
    FragmentDefinitionNode,
    GraphQLSchema,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    TypeNode,
    VariableDefinitionNode,
    get_operation_ast,
)
from graphql.execution.values import get_variable_values
from strawberry.extensions import SchemaExtension

from graph.errors import CostLimitError, RateLimitedError
from graph.observability.metrics import count_refusal, observe_cost
from graph.rate_limits.middleware import current_meter, refusal_extensions, refusal_message
from graph.request_bounds import current_budget
from graph.schema.cost import (
    MAX_FIELDS_VISITED,
    MAX_NESTING_JUDGED,
    OperationCost,
    TooLargeToJudge,
    operation_cost,
)
from graph.schema.node_budget import NodeBudget


class OperationLimits(SchemaExtension):
    def __init__(
        self,
        *,
        max_document_chars: int,
        max_mutations: int,
        max_nodes: int,
        max_cost: int,
        default_page_size: int,
        budget: NodeBudget,
        counted: OperationCosts,
    ) -> None:
        self.max_document_chars = max_document_chars
        self.max_mutations = max_mutations
        self.max_nodes = max_nodes
        self.max_cost = max_cost
        self.default_page_size = default_page_size
        self.budget = budget
        self.counted = counted
        self.measured: OperationCost | None = None

    def on_parse(self) -> Iterator[None]:
        query = self.execution_context.query
        if query is not None and len(query) > self.max_document_chars:
            count_refusal("cost")
            raise CostLimitError(
                f"This document is {len(query):,} characters long; the limit is "
                f"{self.max_document_chars:,}.",
                maxDocumentChars=self.max_document_chars,
                documentChars=len(query),
            )
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        # Before validation: validating 270 aliases of `__schema` cost 230 ms of CPU (some
        # of its rules grow with the square of the fields), judging their cost 30 ms. An
        # invalid document is judged as it stands: unknown fields count one, fragment
        # cycles once; validation then reports what is wrong with it.
        measured = self._measure()
        if measured is not None:
            observe_cost(measured.cost)
            budget = current_budget.get()
            if budget is not None and measured.root_mutations:
                budget.holds_writes = True
            try:
                self._check(measured)
            except CostLimitError:
                count_refusal("cost")
                raise
            await _charge_rate_limit(measured.cost)
        self.measured = measured
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        nodes = self.measured.nodes if self.measured is not None else 0
        async with self.budget.reserve(nodes):
            yield

    def _measure(self) -> OperationCost | None:
        context = self.execution_context
        document = context.graphql_document
        operation = (
            None if document is None else get_operation_ast(document, context.operation_name)
        )
        if document is None or operation is None:
            return None
        schema: GraphQLSchema = context.schema._schema
        variables = _page_variables(schema, operation, context.variables)
        # The cost depends on the document and on the whole numbers among the variables
        # only (what a `first` can be): clients repeat the same few.
        key = (
            context.query or "",
            context.operation_name,
            tuple(sorted((k, v) for k, v in variables.items() if type(v) is int)),
        )
        found = self.counted.get(key)
        if found is None:
            fragments = {
                definition.name.value: definition
                for definition in document.definitions
                if isinstance(definition, FragmentDefinitionNode)
            }
            try:
                found = operation_cost(
                    schema,
                    operation,
                    fragments,
                    variables,
                    self.default_page_size,
                    ceiling=self.max_cost,
                    node_ceiling=self.max_nodes,
                )
            except TooLargeToJudge as error:
                count_refusal("cost")
                raise CostLimitError(
                    f"This operation is too large to judge: {error}. Ask for less.",
                    maxNesting=MAX_NESTING_JUDGED,
                    maxFieldsVisited=MAX_FIELDS_VISITED,
                ) from None
            self.counted.put(key, found)
        return found

    def _check(self, measured: OperationCost) -> None:
        if measured.root_mutations > self.max_mutations:
            raise CostLimitError(
                f"This request holds {measured.root_mutations:,} mutations; the limit is "
                f"{self.max_mutations:,}. Send them in several requests.",
                maxMutations=self.max_mutations,
                requestedMutations=measured.root_mutations,
            )
        if measured.nodes > self.max_nodes:
            raise CostLimitError(
                f"This query could return up to {measured.nodes:,} objects; the limit is "
                f"{self.max_nodes:,}. Ask for smaller pages (`first`) or fewer levels.",
                maxNodes=self.max_nodes,
                requestedNodes=measured.nodes,
            )
        if measured.cost > self.max_cost:
            raise CostLimitError(
                f"This operation could cost up to {measured.cost:,}; the limit is "
                f"{self.max_cost:,}. Ask for fewer fields, aliases or levels.",
                maxCost=self.max_cost,
                requestedCost=measured.cost,
            )


async def _charge_rate_limit(cost: int) -> None:
    """Take the operation's cost from its user's bucket (graph/rate_limits/), refusing it
    with `RATE_LIMITED` when the bucket is empty."""
    meter = current_meter.get()
    if meter is None:
        return
    charge = await meter.charge_before_running(cost)
    if not charge.allowed:
        raise RateLimitedError(refusal_message(charge), **refusal_extensions(charge))


def _page_variables(
    schema: GraphQLSchema, operation: OperationDefinitionNode, given: dict[str, Any] | None
) -> dict[str, Any]:
    """The variables a `first` can be, coerced as execution will see them (a default counts
    too). Only an Int variable can be a `first` in a valid document; most documents have
    none, and then nothing is coerced twice (execution coerces them all again)."""
    definitions = operation.variable_definitions or ()
    if not any(_is_int(definition) for definition in definitions):
        return {}
    try:
        coerced = get_variable_values(schema, definitions, given or {})
    except Exception:  # an invalid document (an unknown type): validation reports it
        return {}
    # graphql-core 3.3 wraps the values (`.coerced`); a list means bad variables, which
    # execution reports itself.
    variables = getattr(coerced, "coerced", coerced)
    return variables if isinstance(variables, dict) else {}


def _is_int(definition: VariableDefinitionNode) -> bool:
    variable_type: TypeNode = definition.type
    while isinstance(variable_type, NonNullTypeNode):
        variable_type = variable_type.type
    return isinstance(variable_type, NamedTypeNode) and variable_type.name.value == "Int"


CostKey = tuple[str, str | None, tuple[tuple[str, int], ...]]


class OperationCosts:
    """Costs already worked out, the least recently used dropped beyond `maxsize`."""

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._found: OrderedDict[CostKey, OperationCost] = OrderedDict()

    def get(self, key: CostKey) -> OperationCost | None:
        found = self._found.get(key)
        if found is not None:
            self._found.move_to_end(key)
        return found

    def put(self, key: CostKey, cost: OperationCost) -> None:
        self._found[key] = cost
        if len(self._found) > self._maxsize:
            self._found.popitem(last=False)
