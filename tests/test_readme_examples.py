"""Every GraphQL example in the README runs as written against a fresh demo, as the
central admin: no error, and no mutation answered with a typed error."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from graphql import OperationDefinitionNode, OperationType, parse

from models import Role
from models.demo import CENTRAL_CODE
from tests.conftest import DemoWorld, demo_user
from tests.live_api import live_server, signed_in

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"```graphql\n(.*?)```", re.DOTALL)
CENTRAL_ADMIN = demo_user(Role.ADMIN, CENTRAL_CODE)
# The values the README gives for its examples' variables.
VARIABLES: dict[str, Any] = {"hanoi": "Q29tbWl0dGVlOjI=", "after": None}
TYPED_ERRORS = {
    "NotFound",
    "Forbidden",
    "ValidationError",
    "Conflict",
    "VersionConflict",
    "CongressVersionConflict",
}


def examples() -> list[str]:
    """Each operation of each ```graphql block (a block may show several, one a line)."""
    found: list[str] = []
    for block in BLOCK.findall(README.read_text(encoding="utf-8")):
        starts = [
            m.start() for m in re.finditer(r"^(?:query|mutation|subscription|\{)", block, re.M)
        ]
        found.extend(
            block[a:b].strip() for a, b in zip(starts, [*starts[1:], len(block)], strict=True)
        )
    return found


def operation(example: str) -> OperationDefinitionNode:
    [definition] = parse(example).definitions
    assert isinstance(definition, OperationDefinitionNode)
    return definition


def variables_of(definition: OperationDefinitionNode) -> dict[str, Any]:
    names = [variable.variable.name.value for variable in definition.variable_definitions or ()]
    missing = [name for name in names if name not in VARIABLES]
    assert not missing, f"the README gives no value for {missing}"
    return {name: VARIABLES[name] for name in names}


def test_the_readme_has_examples_of_every_kind() -> None:
    kinds = {operation(example).operation for example in examples()}
    assert kinds == {OperationType.QUERY, OperationType.MUTATION, OperationType.SUBSCRIPTION}
    assert len(examples()) >= 9


async def test_every_query_and_mutation_runs_as_written(fresh_world: DemoWorld) -> None:
    token = fresh_world.client.token_for(CENTRAL_ADMIN)
    for example in examples():
        definition = operation(example)
        if definition.operation is OperationType.SUBSCRIPTION:
            continue
        response = await fresh_world.client.post(example, variables_of(definition), token=token)
        body = response.json()
        assert response.status_code == 200, (example, body)
        assert "errors" not in body, (example, body["errors"])
        if definition.operation is OperationType.MUTATION:
            answers = {value["__typename"] for value in body["data"].values()}
            assert not answers & TYPED_ERRORS, (example, body["data"])


async def test_every_subscription_runs_as_written(fresh_world: DemoWorld) -> None:
    token = fresh_world.client.token_for(CENTRAL_ADMIN)
    subscriptions = [
        example
        for example in examples()
        if operation(example).operation is OperationType.SUBSCRIPTION
    ]
    assert subscriptions
    async with live_server(fresh_world) as url, signed_in(url, token) as client:
        for number, example in enumerate(subscriptions):
            await client.subscribe(str(number), example, **variables_of(operation(example)))
        # A live summary is sent at once; an event stream waits for a change.
        summaries = [
            str(number) for number, example in enumerate(subscriptions) if "progress(" in example
        ]
        for operation_id in summaries:
            assert (await client.next_data(operation_id))["progress"]["total"] > 0
        await client.nothing_arrives(0.3)
