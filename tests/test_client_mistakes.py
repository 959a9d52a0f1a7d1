"""A malformed request is the client's mistake: a JSON answer that says so (400, or an error
with a client's code), never INTERNAL_SERVER_ERROR or a plain-text 500, and no logged bug."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from config import Environment, Settings
from graph.global_ids import GlobalId
from models import Role
from models.demo import CENTRAL_CODE
from tests.api import app_client
from tests.conftest import DemoWorld, demo_user

CENTRAL_ADMIN = demo_user(Role.ADMIN, CENTRAL_CODE)
CLIENT_CODES = {"BAD_USER_INPUT", "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"}
SEARCH = "query($s: String) { committees(search: $s) { totalCount } }"


def encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# Each malformed request as raw body bytes, and what must come back: an HTTP status of 400,
# or (None) a GraphQL error with one of the client's codes.
MISTAKES: dict[str, tuple[bytes, int | None]] = {
    "wrong-variable-type": (
        json.dumps(
            {
                "query": "query($n: Int) { committees(first: $n) { totalCount } }",
                "variables": {"n": "ten"},
            }
        ).encode(),
        None,
    ),
    "missing-required-variable": (
        json.dumps({"query": "query($id: ID!) { node(id: $id) { id } }"}).encode(),
        None,
    ),
    "50k-search": (json.dumps({"query": SEARCH, "variables": {"s": "a" * 50_000}}).encode(), None),
    "50k-users-search": (
        json.dumps(
            {
                "query": "query($s: String) { users(search: $s) { totalCount } }",
                "variables": {"s": "a" * 50_000},
            }
        ).encode(),
        None,
    ),
    "cursor-past-64-bits": (
        json.dumps(
            {
                "query": "query($a: String) { committees(after: $a) { totalCount } }",
                "variables": {
                    "a": base64.urlsafe_b64encode(b"cursor:99999999999999999999").decode()
                },
            }
        ).encode(),
        None,
    ),
    "lone-surrogate-variable": (
        b'{"query": "' + SEARCH.encode() + b'", "variables": {"s": "\\ud800"}}',
        400,
    ),
    "lone-surrogate-literal": (
        json.dumps({"query": '{ committees(search: "\\ud800") { totalCount } }'}).encode(),
        None,
    ),
    "invalid-utf8": (b'{"query": "{ __typename \xff }"}', 400),
    "json-string-body": (b'"x"', 400),
    "json-null-body": (b"null", 400),
    "not-json": (b'{"query": ', 400),
    "empty-body": (b"", 400),
    "json-100000-deep": (b"[" * 100_000 + b"]" * 100_000, 400),
    "variables-100000-deep": (
        b'{"query": "{ __typename }", "variables": {"v": '
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}}",
        400,
    ),
    "utf16-body": (json.dumps({"query": "{ __typename }"}).encode("utf-16"), 400),
}


async def send(http: httpx.AsyncClient, token: str, body: bytes) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return await http.post("/graphql", content=body, headers=headers)


def assert_clients_mistake(response: httpx.Response, status: int | None) -> None:
    assert response.headers["content-type"].startswith("application/json"), response.text
    answer: dict[str, Any] = response.json()
    codes = {error["extensions"]["code"] for error in answer["errors"]}
    if status is None:
        assert response.status_code == 200
        assert codes <= CLIENT_CODES, answer
    else:
        assert response.status_code == status
        assert codes == {"BAD_REQUEST"}, answer
    assert "Traceback" not in response.text
    assert "sqlite" not in response.text.lower()


@pytest.mark.parametrize(("body", "status"), MISTAKES.values(), ids=MISTAKES.keys())
async def test_a_malformed_request_is_the_clients_mistake(
    demo_world: DemoWorld, caplog: pytest.LogCaptureFixture, body: bytes, status: int | None
) -> None:
    with caplog.at_level(logging.WARNING):
        response = await send(
            demo_world.client.http, demo_world.client.token_for(CENTRAL_ADMIN), body
        )
    assert_clients_mistake(response, status)
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []


@pytest.fixture
async def production(demo_world: DemoWorld) -> AsyncIterator[httpx.AsyncClient]:
    """The demo world served with production settings: bugs are masked there."""
    settings = Settings(
        data_dir=demo_world.settings.data_dir,
        database_url=demo_world.database_url,
        environment=Environment.PRODUCTION,
        local_issuer_enabled=True,
        graphiql=False,
    )
    async with app_client(settings, demo_world.engine) as http:
        yield http


@pytest.mark.parametrize(("body", "status"), MISTAKES.values(), ids=MISTAKES.keys())
async def test_a_malformed_request_is_not_masked_as_a_bug_in_production(
    demo_world: DemoWorld, production: httpx.AsyncClient, body: bytes, status: int | None
) -> None:
    response = await send(production, demo_world.client.token_for(CENTRAL_ADMIN), body)
    assert_clients_mistake(response, status)


@pytest.mark.parametrize(
    "row_id", ["99999999999999999999", str(2**63), str(-(2**63) - 1), "1_0", " 1", "+1", "١"]
)
async def test_a_global_id_we_could_not_have_issued_is_no_node(
    demo_world: DemoWorld, row_id: str
) -> None:
    data = await demo_world.client.query(
        CENTRAL_ADMIN,
        "query($id: ID!) { node(id: $id) { id } committee(id: $id) { id } }",
        id=encoded(f"Committee:{row_id}"),
    )
    assert data == {"node": None, "committee": None}


def test_global_ids_hold_64_bit_signed_row_ids() -> None:
    assert GlobalId.parse(encoded(f"Committee:{2**63 - 1}")) == GlobalId("Committee", 2**63 - 1)
    assert GlobalId.parse(encoded(f"Committee:{2**63}")) is None
    assert GlobalId.parse(encoded("Committee:12")) == GlobalId("Committee", 12)
    assert GlobalId.parse("\ud800") is None


async def test_a_search_of_200_characters_still_runs(demo_world: DemoWorld) -> None:
    data = await demo_world.client.query(CENTRAL_ADMIN, SEARCH, s="a" * 200)
    assert data == {"committees": {"totalCount": 0}}


async def test_an_expired_token_is_refused_without_the_librarys_words_in_production(
    demo_world: DemoWorld, production: httpx.AsyncClient
) -> None:
    expired = demo_world.client.issuer.issue(CENTRAL_ADMIN, -60)
    response = await production.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Authorization": f"Bearer {expired}"}
    )
    assert response.status_code == 401
    assert response.json()["errors"] == [
        {
            "message": "Unauthenticated: invalid or expired token",
            "extensions": {"code": "UNAUTHENTICATED"},
        }
    ]
