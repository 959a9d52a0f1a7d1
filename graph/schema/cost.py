"""What an operation may cost, worked out from its document before anything runs.

One traversal of the operation (aliases, fragments and inline fragments expanded, the
`first` of every page read from its literal or variable) gives three numbers:

- `nodes`: the objects its pages and lists can return at most, the sum over its list
  fields of the product of the page sizes on the way down (GitHub's API counts the same
  way). It bounds the memory a query holds (the node limit and graph/schema/node_budget.py).
- `cost`: the work it can take at most. Every field counts once for every object it is
  asked of, aliases included, so 10,000 aliases cost 10,000 times one; a field may weigh
  more (`costs(per_object=...)`: a progress summary is a statement and a fold, a write is a
  transaction), and every list counts at the most it can return (a page its `first`, a
  timeline its longest). Introspection answers from the schema alone, so its fields are
  counted over the schema's own types, fields and arguments, exactly.
- `root_mutations`: the writes one request holds.

A field's weight and list size are declared on the field (`metadata=costs(...)`), next to
what the planner knows about it; a field without them weighs 1 and a list without `first`
counts as UNPAGED_LIST_ITEMS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLArgument,
    GraphQLDirective,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLWrappingType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef
from strawberry.schema.schema_converter import GraphQLCoreConverter

PAGE_ARGUMENT = "first"
# What a list without `first` counts as: more than any of ours holds (the ancestors of a
# unit and a subtree's levels in a tree of at most ten levels, one official's roles, a
# term's milestones).
UNPAGED_LIST_ITEMS = 10
# A root mutation field: a transaction of several statements, its audit row and rollups.
WRITE_COST = 100
# What the traversal itself may do before the operation is refused as too large to
# judge: fields nested (or fragments spread within each other) this deep, and this many
# fields visited in all. A document within the length limit that passes either is no
# query a client needs (the depth limit is 15), and judging it would cost more than a
# refusal: fragments spread twice in each other thirty times over expand to 2^30 fields.
MAX_NESTING_JUDGED = 64
MAX_FIELDS_VISITED = 100_000

COST = "congress.cost"
_DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF


@dataclass(frozen=True, slots=True)
class FieldCost:
    """What one field weighs per object it is asked of, and the most items its list holds."""

    per_object: int = 1
    max_items: int | None = None


def costs(*, per_object: int = 1, max_items: int | None = None) -> Mapping[str, FieldCost]:
    """A field's metadata: its weight and, for a list without `first`, its longest."""
    return {COST: FieldCost(per_object, max_items)}


class TooLargeToJudge(Exception):
    """The operation nests deeper, or expands to more fields, than is worth judging."""


@dataclass(frozen=True, slots=True)
class OperationCost:
    nodes: int
    cost: int
    root_mutations: int


def operation_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    page_variables: Mapping[str, Any],
    default_page_size: int,
    ceiling: int,
    node_ceiling: int,
) -> OperationCost:
    """The operation's worst case (the document need not be valid yet: unknown fields count
    as one, fragment cycles once), or TooLargeToJudge. Walking introspection stops once
    its cost passes `ceiling` or its objects `node_ceiling`: the operation is refused
    whatever the rest would add, and the walk costs no more than a refusal."""
    root_type = schema.get_root_type(operation.operation)
    counter = _Counter(schema, fragments, page_variables, default_page_size, ceiling, node_ceiling)
    is_mutation = operation.operation is OperationType.MUTATION
    root_fields = counter.fields_of(operation.selection_set, root_type)
    nodes = cost = 0
    for field, parent_type in root_fields:
        field_nodes, field_cost = counter.field(field, parent_type, multiplier=1, nesting=1)
        nodes += field_nodes
        cost += field_cost + (WRITE_COST if is_mutation else 0)
    return OperationCost(nodes, cost, len(root_fields) if is_mutation else 0)


class _Counter:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        default_page_size: int,
        ceiling: int,
        node_ceiling: int,
    ) -> None:
        self._schema = schema
        self._fragments = fragments
        self._variables = variables
        self._default_page_size = default_page_size
        self._ceiling = ceiling
        self._node_ceiling = node_ceiling
        self._introspection_spent = 0
        self._introspection_nodes = 0
        self._fields_visited = 0

    def fields_of(
        self,
        selection_set: SelectionSetNode | None,
        parent_type: GraphQLNamedType | None,
        spread: frozenset[str] = frozenset(),
    ) -> list[tuple[FieldNode, GraphQLNamedType | None]]:
        """The fields of a selection with fragments expanded, each with its parent type
        (every occurrence: two aliases are two fields)."""
        if len(spread) > MAX_NESTING_JUDGED:
            raise TooLargeToJudge(f"fragments spread more than {MAX_NESTING_JUDGED} deep")
        found: list[tuple[FieldNode, GraphQLNamedType | None]] = []
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                self._fields_visited += 1
                if self._fields_visited > MAX_FIELDS_VISITED:
                    raise TooLargeToJudge(f"more than {MAX_FIELDS_VISITED:,} fields")
                found.append((selection, parent_type))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                fragment_type = (
                    self._schema.get_type(condition.name.value) if condition else parent_type
                )
                found += self.fields_of(selection.selection_set, fragment_type, spread)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self._fragments.get(name)
                if fragment is not None and name not in spread:
                    fragment_type = self._schema.get_type(fragment.type_condition.name.value)
                    found += self.fields_of(fragment.selection_set, fragment_type, spread | {name})
        return found

    def field(
        self,
        field: FieldNode,
        parent_type: GraphQLNamedType | None,
        multiplier: int,
        nesting: int,
    ) -> tuple[int, int]:
        """(nodes, cost) of one field asked of `multiplier` objects, and of what is below."""
        definition = self._definition(field, parent_type)
        if definition is None:  # __typename, or a field validation will refuse
            return 0, multiplier
        if definition is SchemaMetaFieldDef or definition is TypeMetaFieldDef:
            nodes, cost = self._introspected(field, self._introspection_roots(field), nesting)
            return multiplier * nodes, multiplier * cost
        declared = _declared_cost(definition)
        cost = multiplier * declared.per_object
        field_type = get_named_type(definition.type)
        nodes = 0
        below = multiplier
        if PAGE_ARGUMENT in definition.args:
            below = multiplier * self._page_size(field)
            nodes = below
        elif is_list_type(get_nullable_type(definition.type)) and not _in_connection(parent_type):
            # A list without paging: its items can each carry pages, so they multiply
            # what is below them.
            items = self._list_items(parent_type, field, declared)
            below = multiplier * items
            nodes = below
            cost += below
        if field.selection_set is None:
            return nodes, cost
        if nesting >= MAX_NESTING_JUDGED:
            raise TooLargeToJudge(f"fields nested more than {MAX_NESTING_JUDGED} deep")
        for child, child_parent in self.fields_of(field.selection_set, field_type):
            child_nodes, child_cost = self.field(child, child_parent, below, nesting + 1)
            nodes += child_nodes
            cost += child_cost
        return nodes, cost

    def _introspection_roots(self, field: FieldNode) -> list[object]:
        """`__schema` is the schema; `__type(name:)` the type named, or the largest one
        when the name is a variable (its value is not known yet)."""
        if field.name.value == "__schema":
            return [self._schema]
        for argument in field.arguments or ():
            if argument.name.value == "name" and isinstance(argument.value, StringValueNode):
                named = self._schema.get_type(argument.value.value)
                return [] if named is None else [named]
        return list(self._schema.type_map.values())

    def _introspected(
        self, field: FieldNode, values: list[object], nesting: int
    ) -> tuple[int, int]:
        """(nodes, cost) of an introspection field over the schema's own objects, walked
        as introspection will answer it (its answer depends on the schema alone). For
        `__type` with a variable name: the most any one type would cost."""
        most_nodes = most_cost = 0
        total_nodes = total_cost = 0
        for value in values:
            nodes, cost = self._introspected_object(field.selection_set, value, nesting)
            most_nodes, most_cost = max(most_nodes, nodes), max(most_cost, cost)
            total_nodes, total_cost = total_nodes + nodes, total_cost + cost
            if self._over(total_nodes, total_cost):
                break
        if field.name.value == "__type":
            total_nodes, total_cost = most_nodes, most_cost
        # What all introspection fields of the operation add up to: a thousand aliases of
        # `__schema` stop being walked once they are over the ceiling together.
        self._introspection_spent += total_cost
        self._introspection_nodes += total_nodes
        return total_nodes, 1 + total_cost

    def _over(self, nodes: int, cost: int) -> bool:
        """Whether the introspection walked so far is over a limit (then it stops)."""
        return (
            self._introspection_spent + cost > self._ceiling
            or self._introspection_nodes + nodes > self._node_ceiling
        )

    def _introspected_object(
        self, selection_set: SelectionSetNode | None, value: object, nesting: int
    ) -> tuple[int, int]:
        if selection_set is None:
            return 0, 0
        if nesting >= MAX_NESTING_JUDGED:
            raise TooLargeToJudge(f"fields nested more than {MAX_NESTING_JUDGED} deep")
        nodes = cost = 0
        for child, _parent in self.fields_of(
            selection_set, _introspection_type(self._schema, value)
        ):
            cost += 1
            found = _introspection_children(self._schema, value, child.name.value)
            items = found if isinstance(found, list) else ([] if found is None else [found])
            if isinstance(found, list):
                nodes += len(found)
                cost += len(found)
            for item in items:
                item_nodes, item_cost = self._introspected_object(
                    child.selection_set, item, nesting + 1
                )
                nodes += item_nodes
                cost += item_cost
                if self._over(nodes, cost):
                    return nodes, cost
        return nodes, cost

    def _definition(
        self, field: FieldNode, parent_type: GraphQLNamedType | None
    ) -> GraphQLField | None:
        name = field.name.value
        if parent_type is self._schema.query_type:
            if name == "__schema":
                return SchemaMetaFieldDef
            if name == "__type":
                return TypeMetaFieldDef
        fields: Mapping[str, GraphQLField] = getattr(parent_type, "fields", {})
        return fields.get(name)

    def _list_items(
        self, parent_type: GraphQLNamedType | None, field: FieldNode, declared: FieldCost
    ) -> int:
        return declared.max_items if declared.max_items is not None else UNPAGED_LIST_ITEMS

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


def _in_connection(parent_type: GraphQLNamedType | None) -> bool:
    """`edges` and `nodes` are the page their connection's `first` already counted."""
    return parent_type is not None and parent_type.name.endswith("Connection")


_PLAIN = FieldCost()


def _declared_cost(definition: GraphQLField) -> FieldCost:
    strawberry_field = definition.extensions.get(_DEFINITION)
    metadata: Mapping[str, Any] = getattr(strawberry_field, "metadata", None) or {}
    declared = metadata.get(COST)
    return declared if isinstance(declared, FieldCost) else _PLAIN


def _introspection_children(schema: GraphQLSchema, value: object, name: str) -> object:
    """What introspection answers for field `name` of `value` (one of the schema's own
    objects): the same lists graphql-core's introspection resolvers return."""
    if isinstance(value, GraphQLSchema):
        return {
            "types": list(value.type_map.values()),
            "queryType": value.query_type,
            "mutationType": value.mutation_type,
            "subscriptionType": value.subscription_type,
            "directives": list(value.directives),
        }.get(name)
    if isinstance(value, GraphQLWrappingType):
        return value.of_type if name == "ofType" else None
    if isinstance(value, GraphQLNamedType):
        if name == "fields" and isinstance(value, GraphQLObjectType | GraphQLInterfaceType):
            return list(value.fields.values())
        if name == "inputFields" and isinstance(value, GraphQLInputObjectType):
            return list(value.fields.values())
        if name == "enumValues" and isinstance(value, GraphQLEnumType):
            return list(value.values.values())
        if name == "interfaces" and isinstance(value, GraphQLObjectType | GraphQLInterfaceType):
            return list(value.interfaces)
        if name == "possibleTypes" and isinstance(value, GraphQLAbstractType):
            return list(schema.get_possible_types(value))
        return None
    if isinstance(value, GraphQLField | GraphQLDirective):
        if name == "args":
            return list(value.args.values())
        return value.type if name == "type" and isinstance(value, GraphQLField) else None
    if isinstance(value, GraphQLArgument | GraphQLInputField):
        return value.type if name == "type" else None
    return None


def _introspection_type(schema: GraphQLSchema, value: object) -> GraphQLNamedType | None:
    """The introspection type an object of the schema is shown as."""
    if isinstance(value, GraphQLSchema):
        name = "__Schema"
    elif isinstance(value, GraphQLNamedType | GraphQLWrappingType):
        name = "__Type"
    elif isinstance(value, GraphQLField):
        name = "__Field"
    elif isinstance(value, GraphQLArgument | GraphQLInputField):
        name = "__InputValue"
    elif isinstance(value, GraphQLEnumValue):
        name = "__EnumValue"
    elif isinstance(value, GraphQLDirective):
        name = "__Directive"
    else:
        return None
    return schema.get_type(name)
