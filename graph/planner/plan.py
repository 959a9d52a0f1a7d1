"""Turning an operation into a plan: for each field of the query, how its values are read.

A plan is built from the operation, its fragments and the values of the Boolean variables
(which `@include` and `@skip` read), once per worker (`PlanCache`). Fields are collected
as graphql-core collects them (the same order, fragments expanded where they are spread,
fields of the same response key merged), so the planned answer has the same keys in the
same order. What a plan cannot cover raises `Unplannable`, and the query goes through
graphql-core instead.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLError,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_directive_values,
    get_nullable_type,
)
from graphql.execution.values import VariableValues
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from graph.planner.fields import PLANNED, BatchRead, Planned, SqlRelation

DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF


class Unplannable(Exception):
    """The operation holds something the planner does not cover; graphql-core answers it."""


class Read(Enum):
    TYPENAME = "the object's type name"
    ATTRIBUTE = "an attribute of the object"
    METHOD = "a method of the object without arguments"
    BATCH = "a batch read for every object of the level"


@dataclass(frozen=True, slots=True, eq=False)
class ObjectPlan:
    """The fields asked of one object type, in response order."""

    type_name: str
    fields: tuple[FieldPlan, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Completion:
    """How a value of a field's GraphQL type becomes JSON."""

    nullable: bool
    item: Completion | None = None  # a list of these
    leaf: GraphQLLeafType | None = None
    object_plan: ObjectPlan | None = None  # a concrete object type
    plans_by_class: Mapping[type, ObjectPlan] | None = None  # an interface or a union


@dataclass(frozen=True, slots=True)
class BatchField:
    """A field read for every object of a level at once, with its arguments from `node`."""

    read: BatchRead
    definition: GraphQLField
    node: FieldNode
    python_names: Mapping[str, str]  # GraphQL argument name -> the read's keyword
    # How the database can build the field's answer itself (graph/planner/sql.py).
    sql: SqlRelation | None = None
    # The Python names of the fields asked of the result, for a read told its selection.
    selected: frozenset[str] | None = None


@dataclass(frozen=True, slots=True, eq=False)
class FieldPlan:
    key: str
    read: Read
    python_name: str = ""  # all but TYPENAME
    type_name: str = ""  # TYPENAME
    attribute: str = ""  # ATTRIBUTE
    method: Callable[[Any], Any] | None = None  # METHOD
    batch: BatchField | None = None  # BATCH
    completion: Completion | None = None  # all but TYPENAME
    # The schema field's metadata: what graph/planner/sql.py knows about it.
    metadata: Mapping[str, Any] = field(default_factory=dict)


def build_plan(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: VariableValues,
) -> ObjectPlan:
    if operation.operation is not OperationType.QUERY or schema.query_type is None:
        raise Unplannable("only queries are planned")
    if any(fragment.variable_definitions for fragment in fragments.values()):
        raise Unplannable("fragment variables")
    builder = _Builder(schema, fragments, variables)
    return builder.object_plan(schema.query_type, [operation.selection_set])


class _Builder:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: VariableValues,
    ) -> None:
        self._schema = schema
        self._fragments = fragments
        self._variables = variables

    def object_plan(
        self, object_type: GraphQLObjectType, selection_sets: list[SelectionSetNode]
    ) -> ObjectPlan:
        collected: dict[str, list[FieldNode]] = {}
        for selection_set in selection_sets:
            self._collect(object_type, selection_set, collected, set())
        return ObjectPlan(
            object_type.name,
            tuple(self._field_plan(object_type, key, nodes) for key, nodes in collected.items()),
        )

    def _collect(
        self,
        object_type: GraphQLObjectType,
        selection_set: SelectionSetNode,
        collected: dict[str, list[FieldNode]],
        visited_fragments: set[str],
    ) -> None:
        """graphql-core's `collect_fields`, for one object type."""
        for selection in selection_set.selections:
            if not isinstance(selection, (FieldNode, InlineFragmentNode, FragmentSpreadNode)):
                raise Unplannable(f"a selection of kind {selection.kind}")
            if not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                collected.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if selection.type_condition is None or self._applies(
                    selection.type_condition, object_type
                ):
                    self._collect(
                        object_type, selection.selection_set, collected, visited_fragments
                    )
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in visited_fragments:
                    continue
                visited_fragments.add(name)
                fragment = self._fragments.get(name)
                if fragment is not None and self._applies(fragment.type_condition, object_type):
                    self._collect(object_type, fragment.selection_set, collected, visited_fragments)

    def _included(self, selection: FieldNode | InlineFragmentNode | FragmentSpreadNode) -> bool:
        for directive in selection.directives or ():
            if directive.name.value not in ("include", "skip"):
                raise Unplannable(f"@{directive.name.value}")
        skip = get_directive_values(GraphQLSkipDirective, selection, self._variables)
        if skip is not None and skip["if"] is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, selection, self._variables)
        return include is None or include["if"] is not False

    def _applies(self, condition: NamedTypeNode, object_type: GraphQLObjectType) -> bool:
        condition_type = self._schema.get_type(condition.name.value)
        if condition_type is object_type:
            return True
        if isinstance(condition_type, GraphQLAbstractType):
            return self._schema.is_sub_type(condition_type, object_type)
        return False

    def _field_plan(
        self, object_type: GraphQLObjectType, key: str, nodes: list[FieldNode]
    ) -> FieldPlan:
        name = nodes[0].name.value
        if name == "__typename":
            return FieldPlan(key, Read.TYPENAME, type_name=object_type.name)
        graphql_field = object_type.fields.get(name)
        definition = graphql_field.extensions.get(DEFINITION) if graphql_field is not None else None
        if graphql_field is None or not isinstance(definition, StrawberryField):
            raise Unplannable(f"{object_type.name}.{name}")
        completion = self._completion(graphql_field.type, nodes)
        planned = definition.metadata.get(PLANNED)
        if isinstance(planned, Planned):
            return FieldPlan(
                key,
                Read.BATCH,
                batch=BatchField(
                    planned.read,
                    graphql_field,
                    nodes[0],
                    _python_names(object_type, name, graphql_field),
                    planned.sql,
                    _selected_names(completion) if planned.told_selection else None,
                ),
                python_name=definition.python_name,
                completion=completion,
                metadata=definition.metadata,
            )
        if graphql_field.args:
            raise Unplannable(f"{object_type.name}.{name} takes arguments and has no plan")
        if definition.is_basic_field:
            return FieldPlan(
                key,
                Read.ATTRIBUTE,
                python_name=definition.python_name,
                attribute=definition.python_name,
                completion=completion,
                metadata=definition.metadata,
            )
        resolver = definition.base_resolver
        if (
            resolver is not None
            and not resolver.is_async
            and not definition.extensions
            and not resolver.arguments
            and resolver.info_parameter is None
            and resolver.self_parameter is not None
        ):
            method = resolver.wrapped_func
            # With a `self` parameter it is a plain function; this check tells the type checker.
            if not callable(method):
                raise Unplannable(f"{object_type.name}.{name} is not a method of its object")
            return FieldPlan(
                key,
                Read.METHOD,
                python_name=definition.python_name,
                method=method,
                completion=completion,
            )
        raise Unplannable(f"{object_type.name}.{name} has a resolver and no plan")

    def _completion(self, field_type: GraphQLOutputType, nodes: list[FieldNode]) -> Completion:
        nullable = not isinstance(field_type, GraphQLNonNull)
        named = get_nullable_type(field_type)
        if isinstance(named, GraphQLList):
            return Completion(nullable, item=self._completion(named.of_type, nodes))
        if isinstance(named, GraphQLLeafType):
            return Completion(nullable, leaf=named)
        selection_sets = [node.selection_set for node in nodes if node.selection_set]
        if isinstance(named, GraphQLObjectType):
            return Completion(nullable, object_plan=self.object_plan(named, selection_sets))
        if isinstance(named, GraphQLAbstractType):
            plans: dict[type, ObjectPlan] = {}
            for possible in self._schema.get_possible_types(named):
                origin = getattr(possible.extensions.get(DEFINITION), "origin", None)
                if not isinstance(origin, type):
                    raise Unplannable(f"{possible.name} has no Python class")
                plans[origin] = self.object_plan(possible, selection_sets)
            return Completion(nullable, plans_by_class=plans)
        raise Unplannable(f"a field of type {field_type}")


def _selected_names(completion: Completion) -> frozenset[str]:
    """The Python names of the fields asked of a field's objects (of one type)."""
    while completion.item is not None:
        completion = completion.item
    if completion.object_plan is None:
        raise Unplannable("a read told its selection returns objects of one type")
    return frozenset(
        field.python_name
        for field in completion.object_plan.fields
        if field.read is not Read.TYPENAME
    )


def _python_names(object_type: GraphQLObjectType, name: str, field: GraphQLField) -> dict[str, str]:
    names: dict[str, str] = {}
    for argument_name, argument in field.args.items():
        if not isinstance(get_nullable_type(argument.type), GraphQLScalarType):
            # Enums and input objects would need strawberry's conversion to Python values.
            raise Unplannable(f"{object_type.name}.{name}({argument_name}:) is not a scalar")
        definition = argument.extensions.get(DEFINITION)
        names[argument_name] = getattr(definition, "python_name", argument_name)
    return names


# Distinct operations (and @include/@skip choices) whose plan a worker keeps.
PLANS_KEPT = 256


class PlanCache:
    """Plans by operation, most recently used kept: clients send the same few documents, and
    the parser cache hands back the same operation object for the same text."""

    def __init__(self, maxsize: int = PLANS_KEPT) -> None:
        self._maxsize = maxsize
        # The operation is kept with its plan, so its id cannot be reused while cached.
        self._plans: OrderedDict[
            tuple[int, tuple[object, ...]], tuple[OperationDefinitionNode, ObjectPlan | None]
        ] = OrderedDict()

    def plan_for(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: VariableValues,
    ) -> ObjectPlan | None:
        """The operation's plan, or None when graphql-core must answer it."""
        key = (id(operation), _directive_choices(operation, variables))
        cached = self._plans.get(key)
        if cached is not None:
            self._plans.move_to_end(key)
            return cached[1]
        try:
            plan: ObjectPlan | None = build_plan(schema, operation, fragments, variables)
        except (Unplannable, GraphQLError, RecursionError):
            # A directive's value graphql-core would report on its field (a null `if`), or
            # a selection nested too deep: graphql-core answers, with its own errors.
            plan = None
        self._plans[key] = (operation, plan)
        if len(self._plans) > self._maxsize:
            self._plans.popitem(last=False)
        return plan


def _directive_choices(
    operation: OperationDefinitionNode, variables: VariableValues
) -> tuple[object, ...]:
    """The values of the operation's Boolean variables: all a plan's shape depends on."""
    choices: list[object] = []
    for definition in operation.variable_definitions or ():
        variable_type = definition.type
        if isinstance(variable_type, NonNullTypeNode):
            variable_type = variable_type.type
        if isinstance(variable_type, NamedTypeNode) and variable_type.name.value == "Boolean":
            choices.append(variables.coerced.get(definition.variable.name.value))
    return tuple(choices)
