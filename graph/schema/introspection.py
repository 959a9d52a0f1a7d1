"""Who may ask the schema about itself, per CONGRESS_INTROSPECTION.

`signed-in` (the default): every official with a valid token, as any query; the cost
limit counts it (graph/schema/cost.py). `admins`: officials with an administrator role
somewhere; `off`: nobody. Whoever may not introspect does not get graphql-core's
"Did you mean ...?" suggestions either: they spell out the schema's field and type names
a field at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from graphql import DocumentNode, FieldNode, GraphQLError, Node
from strawberry.extensions import SchemaExtension

from config import Introspection
from graph.errors import VALIDATION_FAILED, ClientError
from models.users import Role

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})
_SUGGESTION = re.compile(r" Did you mean .*\?$", re.DOTALL)


class IntrospectionRefused(ClientError):
    code = VALIDATION_FAILED


class IntrospectionAccess(SchemaExtension):
    def __init__(self, *, access: Introspection) -> None:
        self.access = access

    def on_validate(self) -> Iterator[None]:
        allowed = self._viewer_may_introspect()
        document = self.execution_context.graphql_document
        if not allowed and document is not None and introspects(document):
            raise IntrospectionRefused(
                "Introspection is off on this server."
                if self.access is Introspection.OFF
                else "Introspection is for administrators on this server."
            )
        yield
        if not allowed:
            for error in self.execution_context.pre_execution_errors or ():
                _hide_suggestion(error)

    def _viewer_may_introspect(self) -> bool:
        if self.access is Introspection.SIGNED_IN:
            return True
        if self.access is Introspection.OFF:
            return False
        viewer = getattr(self.execution_context.context, "viewer", None)
        grants = getattr(viewer, "grants", ())
        return any(grant.role is Role.ADMIN for grant in grants)


def introspects(document: DocumentNode) -> bool:
    """Whether any selection of the document asks for `__schema` or `__type`."""
    pending: list[Node] = list(document.definitions)
    while pending:
        node = pending.pop()
        if isinstance(node, FieldNode) and node.name.value in INTROSPECTION_FIELDS:
            return True
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            pending.extend(selection_set.selections)
    return False


def _hide_suggestion(error: GraphQLError) -> None:
    error.message = _SUGGESTION.sub("", error.message)
