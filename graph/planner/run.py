"""Running a plan: the objects of a query read level by level, completed in one pass each.

Each level of the answer is a group: one `ObjectPlan` and every object it applies to (all
the children of all the committees above, say). A group's batch fields are read once for
the whole group, concurrently, through the request's DataLoaders; its other fields are
attributes and plain methods. Values are completed by the field's GraphQL type as
graphql-core completes them, and the objects found on the way form the next groups.

Anything graphql-core would report as an error abandons the run (`Abandoned`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any

from graphql import Undefined
from graphql.execution.values import VariableValues, get_argument_values
from graphql.pyutils import is_iterable

from graph.context import Context
from graph.planner.plan import Completion, FieldPlan, ObjectPlan, Read
from graph.planner.sql import NotSql, read_in_sql

Output = dict[str, Any]


class Abandoned(Exception):
    """A value the planner would not complete exactly as graphql-core does."""


class _Level:
    """The objects found while completing one level, grouped by the plan that applies."""

    def __init__(self) -> None:
        self.groups: dict[ObjectPlan, tuple[list[Any], list[Output]]] = {}

    def add(self, plan: ObjectPlan, source: Any, output: Output) -> None:
        group = self.groups.get(plan)
        if group is None:
            group = self.groups[plan] = ([], [])
        group[0].append(source)
        group[1].append(output)


async def run_plan(plan: ObjectPlan, context: Context, variables: VariableValues) -> Output:
    """The `data` of the query's answer."""
    root: Output = {}
    await _fill(plan, [None], [root], context, variables)
    return root


async def _fill(
    plan: ObjectPlan,
    sources: Sequence[Any],
    outputs: Sequence[Output],
    context: Context,
    variables: VariableValues,
) -> None:
    """Every field of `plan` for each (source, output) pair, then the levels below."""
    below = _Level()
    batches: list[FieldPlan] = []
    for field in plan.fields:
        key = field.key
        if field.read is Read.TYPENAME:
            for output in outputs:
                output[key] = field.type_name
            continue
        if field.read is Read.BATCH:
            # Placeholders keep the key's place in the response; the read fills them.
            for output in outputs:
                output[key] = None
            batches.append(field)
            continue
        completion = field.completion
        assert completion is not None
        if field.read is Read.ATTRIBUTE:
            attribute = field.attribute
            for source, output in zip(sources, outputs, strict=True):
                output[key] = _complete(completion, getattr(source, attribute), below)
        else:
            method = field.method
            assert method is not None
            for source, output in zip(sources, outputs, strict=True):
                output[key] = _complete(completion, method(source), below)
    if batches:
        await _all(
            _read_batch(field, sources, outputs, context, variables, below) for field in batches
        )
    if below.groups:
        await _all(
            _fill(group_plan, group_sources, group_outputs, context, variables)
            for group_plan, (group_sources, group_outputs) in below.groups.items()
        )


async def _all(reads: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run the reads together; when one fails, the others still finish before the error is
    raised, so nothing of an abandoned run is left using the session graphql-core then uses."""
    outcomes = await asyncio.gather(*reads, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


async def _read_batch(
    field: FieldPlan,
    sources: Sequence[Any],
    outputs: Sequence[Output],
    context: Context,
    variables: VariableValues,
    below: _Level,
) -> None:
    batch, completion = field.batch, field.completion
    assert batch is not None
    assert completion is not None
    key = field.key
    if batch.sql is not None:
        try:
            # The whole answer from the database, already complete (graph/planner/sql.py).
            answers = await read_in_sql(field, context, sources, variables)
        except NotSql:
            pass
        else:
            for output, answer in zip(outputs, answers, strict=True):
                output[key] = answer
            return
    arguments = get_argument_values(batch.definition, batch.node, variables)
    python_names = batch.python_names
    keywords = {python_names[name]: value for name, value in arguments.items()}
    if batch.selected is not None:
        keywords["selected"] = batch.selected
    values = await batch.read(context, sources, **keywords)
    if len(values) != len(sources):
        raise Abandoned(f"{field.key}: {len(values)} values for {len(sources)} objects")
    for output, value in zip(outputs, values, strict=True):
        output[key] = _complete(completion, value, below)


def _complete(completion: Completion, value: Any, below: _Level) -> Any:
    if value is None or value is Undefined:
        if completion.nullable:
            return None
        raise Abandoned("null where the type forbids it")
    if completion.leaf is not None:
        coerced = completion.leaf.coerce_output_value(value)
        if coerced is None or coerced is Undefined:
            raise Abandoned(f"{value!r} is not a {completion.leaf}")
        return coerced
    if completion.item is not None:
        if not is_iterable(value):  # graphql-core's own test: no str, bytes or mapping
            raise Abandoned("a list field gave something else")
        item = completion.item
        return [_complete(item, entry, below) for entry in value]
    object_plan = completion.object_plan
    if object_plan is None:
        assert completion.plans_by_class is not None
        object_plan = completion.plans_by_class.get(type(value))
        if object_plan is None:
            raise Abandoned(f"no type of the interface is {type(value).__name__}")
    output: Output = {}
    below.add(object_plan, value, output)
    return output
