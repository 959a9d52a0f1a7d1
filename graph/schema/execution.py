"""Execution that reads plain leaf fields without the machinery a resolver needs.

A summary is mostly numbers: a dashboard asks for dozens of counters per committee, each a
plain attribute of an object the resolvers already built. For each such field graphql-core
builds a resolve info, calls strawberry's default resolver through two wrappers, checks
twice for an awaitable and dispatches on the field's type before it coerces the value.
None of that can change the answer of a field that strawberry itself marks as basic (no
resolver, no permission or other field extension) and whose type is a scalar or an enum, so
those fields are read and coerced here directly (null too, where the field allows it).
Anything else, and any value the direct path cannot answer alone (null where the field
forbids it, an awaitable, an exception, a value the scalar refuses), goes through
graphql-core's own path, which reports errors as it always does; the value is then read
a second time, which a plain attribute allows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLObjectType,
    GraphQLSchema,
    Undefined,
    get_nullable_type,
    is_non_null_type,
)
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField


@dataclass(frozen=True, slots=True)
class PlainLeaf:
    resolve: Callable[..., Any]
    leaf_type: GraphQLLeafType
    nullable: bool


PlainLeaves = dict[tuple[str, str], PlainLeaf]


# A server builds one schema; the test suite builds one per app, and must not keep them all.
_SCHEMAS_REMEMBERED = 8


@lru_cache(maxsize=_SCHEMAS_REMEMBERED)
def plain_leaves(schema: GraphQLSchema) -> PlainLeaves:
    """(type name, field name) -> every basic scalar or enum field, with its resolver."""
    leaves: PlainLeaves = {}
    for type_name, named_type in schema.type_map.items():
        if not isinstance(named_type, GraphQLObjectType) or type_name.startswith("__"):
            continue
        for field_name, field in named_type.fields.items():
            leaf = _plain_leaf(field)
            if leaf is not None:
                leaves[type_name, field_name] = leaf
    return leaves


def _plain_leaf(field: GraphQLField) -> PlainLeaf | None:
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    # Strawberry's own test for the fields it resolves without an Info: no resolver and no
    # field extensions, so no permission classes either. Exception handlers, the one other
    # thing strawberry wraps a basic field in, only apply to fields returning their types.
    if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
        return None
    leaf_type = get_nullable_type(field.type)
    if not isinstance(leaf_type, GraphQLLeafType) or field.args or field.resolve is None:
        return None
    return PlainLeaf(field.resolve, leaf_type, nullable=not is_non_null_type(field.type))


class PlainLeafExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Field middleware (a schema extension's `resolve`) must see every field.
        middleware = self.middleware_manager
        self._leaves = {} if middleware and middleware.middlewares else plain_leaves(self.schema)

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        leaf = self._leaves.get((parent_type.name, field_details_list[0].node.name.value))
        if leaf is not None:
            try:
                value = leaf.resolve(source, None)
            except Exception:  # graphql-core's path below reports it
                value = Undefined
            if value is None:
                if leaf.nullable:
                    return None
            # What graphql-core completes in other ways: an awaitable, an exception returned
            # as the value (raised as the field's error), Undefined (null).
            elif value is not Undefined and not (
                isinstance(value, Exception) or self.is_awaitable(value)
            ):
                try:
                    coerced = leaf.leaf_type.coerce_output_value(value)
                except Exception:  # reported by graphql-core's path below
                    coerced = None
                if coerced is not Undefined and coerced is not None:
                    return coerced
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
