"""Whether a GraphQL request reads data, judged from its document before it runs.

A request that reads none (`{ __typename }`: a client's or a load balancer's "are you
there?") is answered without reading the user behind it, so it touches no database and
answers while the database is down, locked or out of connections. Anything else reads the
user first (graph/authentication.py `signed_in_viewer`). When in doubt, it reads data: the
worst a wrong "yes" costs is one indexed read.
"""

from __future__ import annotations

from functools import lru_cache

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)
from strawberry.http import GraphQLRequestData

# A document that asks for nothing but `__typename` is short; anything longer is judged
# to read data without being parsed here (parsing a long document costs, and the
# operation's limits judge its length before strawberry parses it).
MAX_DOCUMENT_CHARS_JUDGED = 500
# Distinct short documents whose judgement a worker keeps.
JUDGEMENTS_KEPT = 256


def reads_data(request: GraphQLRequestData | list[GraphQLRequestData]) -> bool:
    """Whether any operation the request runs may read data: any root field but
    `__typename`, in the named operation (or in any, when it names none)."""
    requests = request if isinstance(request, list) else [request]
    return any(_document_reads_data(each.query, each.operation_name) for each in requests)


def _document_reads_data(query: object, operation_name: object) -> bool:
    # What the client sent, unchecked as yet: strawberry refuses a query or an operation
    # name that is not a string after this.
    if not isinstance(query, str) or not query or len(query) > MAX_DOCUMENT_CHARS_JUDGED:
        return True
    if operation_name is not None and not isinstance(operation_name, str):
        return True
    return _short_document_reads_data(query, operation_name)


@lru_cache(maxsize=JUDGEMENTS_KEPT)
def _short_document_reads_data(query: str, operation_name: str | None) -> bool:
    try:
        document = parse(query)
    except GraphQLError:
        return True  # strawberry answers the syntax error; the user is read first
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    operations = [
        definition
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
        and (operation_name is None or getattr(definition.name, "value", None) == operation_name)
    ]
    return not operations or not all(
        _only_typename(operation.selection_set, fragments, set()) for operation in operations
    )


def _only_typename(
    selections: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: set[str]
) -> bool:
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value != "__typename":
                return False
        elif isinstance(selection, InlineFragmentNode):
            if not _only_typename(selection.selection_set, fragments, seen):
                return False
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None:
                return False  # validation refuses it; until then, judged to read data
            if name in seen:
                continue  # a cycle: validation refuses it
            seen.add(name)
            if not _only_typename(fragment.selection_set, fragments, seen):
                return False
    return True
