"""The GraphQL-over-HTTP spec: media types, status codes, and graphql-http's server audit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from models import Role
from models.demo import CENTRAL_CODE
from tests.conftest import DemoWorld, ServedWorld, demo_user

CENTRAL_VIEWER = demo_user(Role.VIEWER, CENTRAL_CODE)
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
AUDIT_DIRECTORY = Path(__file__).parent / "http_audit"
AUDIT_TIMEOUT_SECONDS = 300


async def post(
    world: DemoWorld, body: dict[str, Any], accept: str | None = GRAPHQL_RESPONSE_JSON
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {world.client.token_for(CENTRAL_VIEWER)}"}
    if accept is not None:
        headers["Accept"] = accept
    return await world.client.http.post("/graphql", json=body, headers=headers)


# --- media types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
        (f"application/json, {GRAPHQL_RESPONSE_JSON};q=0.5", "application/json"),
        ("application/json", "application/json"),
        ("*/*", "application/json"),
        (None, "application/json"),
    ],
)
async def test_the_answer_comes_in_the_media_type_asked_for(
    demo_world: DemoWorld, accept: str | None, media_type: str
) -> None:
    response = await post(demo_world, {"query": "{ __typename }"}, accept)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    assert response.json() == {"data": {"__typename": "Query"}}


# --- status codes for application/graphql-response+json -------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": "{"}, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ noSuchField }"}, "GRAPHQL_VALIDATION_FAILED"),
        ({"query": "query($id: ID!) { node(id: $id) { id } }", "variables": {}}, "BAD_USER_INPUT"),
        (
            {"query": "query($n: Int) { committees(first: $n) { totalCount } }"}
            | {"variables": {"n": "ten"}},
            "BAD_USER_INPUT",
        ),
    ],
    ids=["parse", "validation", "missing-variable", "wrong-variable-type"],
)
async def test_a_request_error_is_400_without_data(
    demo_world: DemoWorld, body: dict[str, Any], code: str
) -> None:
    response = await post(demo_world, body)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    answer = response.json()
    assert "data" not in answer
    assert [error["extensions"]["code"] for error in answer["errors"]] == [code]


async def test_the_same_request_error_is_200_with_null_data_as_application_json(
    demo_world: DemoWorld,
) -> None:
    response = await post(demo_world, {"query": "{ noSuchField }"}, "application/json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert answer["data"] is None
    assert answer["errors"][0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}


async def test_a_field_error_is_200_with_data(demo_world: DemoWorld) -> None:
    response = await post(
        demo_world, {"query": '{ committees(after: "not a cursor") { totalCount } }'}
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["data"] is None
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert answer["errors"][0]["path"] == ["committees"]


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE_JSON, "application/json"])
async def test_a_missing_query_is_400_json(demo_world: DemoWorld, accept: str) -> None:
    response = await post(demo_world, {"notquery": "{ __typename }"}, accept)
    assert response.status_code == 400
    assert response.headers["content-type"].split(";")[0] == accept
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}


async def test_mutations_over_get_are_a_json_400(demo_world: DemoWorld) -> None:
    response = await demo_world.client.http.get(
        "/graphql",
        params={"query": "mutation { __typename }"},
        headers={
            "Authorization": f"Bearer {demo_world.client.token_for(CENTRAL_VIEWER)}",
            "Accept": GRAPHQL_RESPONSE_JSON,
        },
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}


# --- graphql-http's audit -------------------------------------------------------------------


def installed_audit() -> Path:
    """tests/http_audit with its pinned node packages installed (`npm ci`, once)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are needed for the GraphQL-over-HTTP audit (Node 20 or later)")
    if not (AUDIT_DIRECTORY / "node_modules" / "graphql-http").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=AUDIT_DIRECTORY,
            check=True,
            timeout=AUDIT_TIMEOUT_SECONDS,
        )
    return AUDIT_DIRECTORY / "audit.mjs"


def test_graphql_http_audit_finds_nothing_to_warn_about(served_world: ServedWorld) -> None:
    script = installed_audit()
    completed = subprocess.run(
        ["node", str(script), served_world.server.graphql_url],
        env={**os.environ, "AUDIT_TOKEN": served_world.token_for(CENTRAL_VIEWER)},
        capture_output=True,
        text=True,
        check=True,
        timeout=AUDIT_TIMEOUT_SECONDS,
    )
    results: list[dict[str, Any]] = json.loads(completed.stdout)
    not_ok = [result for result in results if result["status"] != "ok"]
    statuses = [result["status"] for result in results]
    print(", ".join(f"{statuses.count(status)} {status}" for status in ("ok", "warn", "error")))
    assert len(results) > 50
    assert not not_ok, "\n".join(
        f"{result['status']} {result['id']} {result['name']}: {result['reason']}"
        for result in not_ok
    )
