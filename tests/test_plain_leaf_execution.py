"""Plain leaf fields read directly (graph/schema/execution.py) answer exactly as graphql-core's
own path does: the same data, the same errors at the same paths, the same resolvers called."""

from __future__ import annotations

from enum import Enum
from typing import Any

import pytest
import strawberry
from graphql import Undefined
from strawberry.extensions import SchemaExtension
from strawberry.permission import BasePermission

from config import Settings
from graph.schema import build_schema
from graph.schema.execution import PlainLeafExecutionContext, plain_leaves


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


class Nobody(BasePermission):
    message = "Nobody may read this."

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Item:
    number: int
    maybe: int | None
    ratio: float
    label: str
    colour: Colour
    colour_or_none: Colour | None
    secret: int = strawberry.field(permission_classes=[Nobody])
    calls: strawberry.Private[list[str]]
    # graphql-core raises an exception given as a value, and answers null for Undefined.
    note: str | None = None

    @strawberry.field
    def computed(self) -> int:
        self.calls.append("computed")
        return self.number * 2

    @strawberry.field
    def shifted(self, by: int) -> int:
        return self.number + by


def items(calls: list[str]) -> list[Item]:
    common: dict[str, Any] = {"ratio": 0.5, "secret": 7, "calls": calls}
    return [
        Item(number=1, maybe=None, label="một", colour=Colour.RED, colour_or_none=None, **common),
        # Out of GraphQL's Int range: a field error, and the item is null.
        Item(number=2**40, maybe=3, label="hai", colour=Colour.BLUE, colour_or_none=None, **common),
        # Not a colour, in a nullable field: an error, and only that field is null.
        Item(
            number=3,
            maybe=3,
            label="ba",
            colour=Colour.BLUE,
            colour_or_none="green",  # type: ignore[arg-type]
            note=ValueError("No note here."),  # type: ignore[arg-type]
            **common,
        ),
        Item(
            number=4,
            maybe=None,
            label="bốn",
            colour=Colour.RED,
            colour_or_none=None,
            note=Undefined,  # type: ignore[arg-type]
            **common,
        ),
    ]


def schema(fast: bool, calls: list[str], extensions: list[Any] | None = None) -> strawberry.Schema:
    @strawberry.type
    class Query:
        @strawberry.field
        def items(self) -> list[Item | None]:
            return list(items(calls))

        @strawberry.field
        def first(self) -> Item:
            return items(calls)[0]

    return strawberry.Schema(
        query=Query,
        extensions=extensions or [],
        execution_context_class=PlainLeafExecutionContext if fast else None,
    )


QUERIES = [
    "{ items { number maybe ratio label colour colourOrNone note computed shifted(by: 1) } }",
    "{ first { number label secret } }",
    "{ first { ...F n: number } } fragment F on Item { number maybe colour }",
    "{ items { __typename number } first { computed } }",
]


@pytest.mark.parametrize("query", QUERIES)
async def test_plain_leaves_answer_as_graphql_core_does(query: str) -> None:
    slow_calls: list[str] = []
    fast_calls: list[str] = []
    slow = await schema(fast=False, calls=slow_calls).execute(query)
    fast = await schema(fast=True, calls=fast_calls).execute(query)
    assert fast.data == slow.data
    assert [e.formatted for e in fast.errors or []] == [e.formatted for e in slow.errors or []]
    assert fast_calls == slow_calls


async def test_the_errors_compared_are_there() -> None:
    """The comparison above covers refused values, null and permissions, not only successes."""
    result = await schema(fast=True, calls=[]).execute(QUERIES[0])
    assert result.data is not None
    assert result.data["items"][0]["maybe"] is None
    assert result.data["items"][1] is None  # non-null `number` failed: the item is null
    assert result.data["items"][2]["colourOrNone"] is None
    assert result.data["items"][2]["label"] == "ba"
    assert result.data["items"][2]["note"] is None
    assert result.data["items"][3]["note"] is None
    messages = sorted(e.message for e in result.errors or [])
    assert any("Int cannot represent" in m for m in messages)
    assert any("green" in m for m in messages)
    assert "No note here." in messages
    secret = await schema(fast=True, calls=[]).execute(QUERIES[1])
    assert [e.message for e in secret.errors or []] == ["Nobody may read this."]


def test_only_basic_leaf_fields_are_read_directly() -> None:
    table = plain_leaves(schema(fast=True, calls=[])._schema)
    item_fields = sorted(field for type_name, field in table if type_name == "Item")
    # Not `computed` (a resolver), `shifted` (arguments) or `secret` (a permission).
    assert item_fields == ["colour", "colourOrNone", "label", "maybe", "note", "number", "ratio"]


def test_the_api_reads_its_summary_counters_directly() -> None:
    api = build_schema(Settings())
    assert api.execution_context_class is PlainLeafExecutionContext
    table = plain_leaves(api._schema)
    assert ("SubtreeProgressFigures", "congressesHeld") in table
    assert ("MilestoneProgress", "done") in table
    assert ("Committee", "progress") not in table


async def test_field_middleware_sees_every_field() -> None:
    """A schema extension with `resolve` wraps every field; no field skips it."""
    seen: list[str] = []

    class Watch(SchemaExtension):
        def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
            seen.append(info.field_name)
            return _next(root, info, *args, **kwargs)

    result = await schema(fast=True, calls=[], extensions=[Watch]).execute(
        "{ first { number label } }"
    )
    assert result.data == {"first": {"number": 1, "label": "một"}}
    assert seen == ["first", "number", "label"]
