"""Refuse queries that could return too many objects, before they run.

Each connection can return up to `first` nodes for every node of the connection around it,
so the worst case of a query is the sum, over its connection fields, of the product of the
`first` arguments on the way down (GitHub's GraphQL API counts the same way). Page limits
and the depth limit alone do not bound it: 100 x 100 x 100 is a million committees.
A query within the limit then reserves its worst case from the process's NodeBudget
(graph/schema/node_budget.py) while it executes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    SelectionSetNode,
    TypeNode,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    is_list_type,
)
from graphql.execution.values import get_variable_values
from strawberry.extensions import SchemaExtension

from graph.errors import ClientError
from graph.schema.node_budget import NodeBudget

PAGE_ARGUMENT = "first"
# What a list without `first` counts as: more than any of ours holds (the ancestors of the
# deepest unit, one official's roles, a term's milestones).
UNPAGED_LIST_ITEMS = 10


def _in_connection(parent_type: GraphQLNamedType) -> bool:
    """`edges` and `nodes` are the page their connection's `first` already counted."""
    return parent_type.name.endswith("Connection")


class NodeLimit(SchemaExtension):
    def __init__(
        self,
        *,
        max_nodes: int,
        default_page_size: int,
        budget: NodeBudget,
        counted: WorstCases,
    ) -> None:
        self.max_nodes = max_nodes
        self.default_page_size = default_page_size
        self.budget = budget
        self.counted = counted

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        document = context.graphql_document
        operation = (
            None if document is None else get_operation_ast(document, context.operation_name)
        )
        worst_case = 0
        if document is not None and operation is not None:
            schema: GraphQLSchema = context.schema._schema
            root_type = schema.get_root_type(operation.operation)
            variables = _page_variables(schema, operation, context.variables)
            # The count depends on the document and on the whole numbers among the
            # variables only (what a `first` can be): clients repeat the same few.
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
                counter = _NodeCounter(schema, fragments, variables, self.default_page_size)
                found = counter.count(operation.selection_set, root_type, multiplier=1)
                self.counted.put(key, found)
            worst_case = found
            if worst_case > self.max_nodes:
                error = ClientError(
                    f"This query could return up to {worst_case:,} objects; the limit is "
                    f"{self.max_nodes:,}. Ask for smaller pages (`first`) or fewer levels.",
                    maxNodes=self.max_nodes,
                    requestedNodes=worst_case,
                )
                context.result = ExecutionResult(data=None, errors=[error])
                yield
                return
        async with self.budget.reserve(worst_case):
            yield


def _page_variables(
    schema: GraphQLSchema, operation: OperationDefinitionNode, given: dict[str, Any] | None
) -> dict[str, Any]:
    """The variables a `first` can be, coerced as execution will see them (a default counts
    too). Only an Int variable can be a `first` in a valid document; most documents have
    none, and then nothing is coerced twice (execution coerces them all again)."""
    definitions = operation.variable_definitions or ()
    if not any(_is_int(definition) for definition in definitions):
        return {}
    coerced = get_variable_values(schema, definitions, given or {})
    # graphql-core 3.3 wraps the values (`.coerced`); a list means bad variables, which
    # execution reports itself.
    variables = getattr(coerced, "coerced", coerced)
    return variables if isinstance(variables, dict) else {}


def _is_int(definition: VariableDefinitionNode) -> bool:
    variable_type: TypeNode = definition.type
    while isinstance(variable_type, NonNullTypeNode):
        variable_type = variable_type.type
    return isinstance(variable_type, NamedTypeNode) and variable_type.name.value == "Int"


WorstCaseKey = tuple[str, str | None, tuple[tuple[str, int], ...]]


class WorstCases:
    """Worst cases already counted, the least recently used dropped beyond `maxsize`."""

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._found: OrderedDict[WorstCaseKey, int] = OrderedDict()

    def get(self, key: WorstCaseKey) -> int | None:
        found = self._found.get(key)
        if found is not None:
            self._found.move_to_end(key)
        return found

    def put(self, key: WorstCaseKey, worst_case: int) -> None:
        self._found[key] = worst_case
        if len(self._found) > self._maxsize:
            self._found.popitem(last=False)


class _NodeCounter:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        default_page_size: int,
    ) -> None:
        self._schema = schema
        self._fragments = fragments
        self._variables = variables
        self._default_page_size = default_page_size

    def count(
        self,
        selection_set: SelectionSetNode | None,
        parent_type: GraphQLNamedType | None,
        multiplier: int,
    ) -> int:
        if selection_set is None or parent_type is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._count_field(selection, parent_type, multiplier)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                fragment_type = (
                    self._schema.get_type(condition.name.value) if condition else parent_type
                )
                total += self.count(selection.selection_set, fragment_type, multiplier)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self._fragments.get(selection.name.value)
                if fragment is not None:
                    fragment_type = self._schema.get_type(fragment.type_condition.name.value)
                    total += self.count(fragment.selection_set, fragment_type, multiplier)
        return total

    def _count_field(self, field: FieldNode, parent_type: GraphQLNamedType, multiplier: int) -> int:
        field_definition = getattr(parent_type, "fields", {}).get(field.name.value)
        if field_definition is None:  # __typename and other introspection fields
            return 0
        field_type = get_named_type(field_definition.type)
        if PAGE_ARGUMENT not in field_definition.args:
            if is_list_type(get_nullable_type(field_definition.type)) and not _in_connection(
                parent_type
            ):
                # A short list without paging (ancestors, assignments, milestones): its
                # items can each carry connections, so they multiply what is below them.
                items = multiplier * UNPAGED_LIST_ITEMS
                return items + self.count(field.selection_set, field_type, items)
            return self.count(field.selection_set, field_type, multiplier)
        page = multiplier * self._page_size(field)
        return page + self.count(field.selection_set, field_type, page)

    def _page_size(self, field: FieldNode) -> int:
        for argument in field.arguments or ():
            if argument.name.value != PAGE_ARGUMENT:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(int(value.value), 0)
            if isinstance(value, VariableNode):
                variable = self._variables.get(value.name.value)
                return max(variable, 0) if isinstance(variable, int) else self._default_page_size
        return self._default_page_size
