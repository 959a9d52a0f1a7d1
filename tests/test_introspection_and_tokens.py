"""CONGRESS_INTROSPECTION decides who may ask the schema about itself (and who gets "Did
you mean" suggestions), and tokens living longer than CONGRESS_MAX_TOKEN_LIFETIME_SECONDS
are refused whoever issued them."""

from __future__ import annotations

from typing import Any

import pytest

from config import Introspection
from models import Role
from models.demo import CENTRAL_CODE
from tests.api import GraphQLClient, app_client
from tests.conftest import DemoWorld, demo_user

VIEWER = demo_user(Role.VIEWER, CENTRAL_CODE)
ADMIN = demo_user(Role.ADMIN, CENTRAL_CODE)
SCHEMA = "{ __schema { queryType { name } } }"
TYPE = '{ __type(name: "Committee") { name } }'
TYPO = '{ committee(code: "TW") { nam } }'


async def answer(world: DemoWorld, access: Introspection, subject: str, query: str) -> Any:
    settings = world.settings.with_(introspection=access)
    async with app_client(settings, world.engine) as http:
        client = GraphQLClient(http, world.client.issuer)
        response = await client.post(query, {}, token=client.token_for(subject))
        return response.json()


@pytest.mark.parametrize("query", [SCHEMA, TYPE])
async def test_signed_in_officials_may_introspect_by_default(
    demo_world: DemoWorld, query: str
) -> None:
    body = await answer(demo_world, Introspection.SIGNED_IN, VIEWER, query)
    assert "errors" not in body
    assert body["data"]


@pytest.mark.parametrize("query", [SCHEMA, TYPE, f"query {{ ...F }} fragment F on Query {SCHEMA}"])
async def test_with_admins_only_a_viewer_is_refused_and_an_admin_is_answered(
    demo_world: DemoWorld, query: str
) -> None:
    refused = await answer(demo_world, Introspection.ADMINS, VIEWER, query)
    assert refused["errors"][0]["message"] == "Introspection is for administrators on this server."
    assert refused["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    answered = await answer(demo_world, Introspection.ADMINS, ADMIN, query)
    assert "errors" not in answered
    assert answered["data"]


async def test_off_refuses_everyone_but_typename_still_works(demo_world: DemoWorld) -> None:
    refused = await answer(demo_world, Introspection.OFF, ADMIN, SCHEMA)
    assert refused["errors"][0]["message"] == "Introspection is off on this server."
    typename = await answer(demo_world, Introspection.OFF, VIEWER, "{ __typename }")
    assert typename == {"data": {"__typename": "Query"}}


async def test_suggestions_go_only_to_whoever_may_introspect(demo_world: DemoWorld) -> None:
    admin = await answer(demo_world, Introspection.ADMINS, ADMIN, TYPO)
    viewer = await answer(demo_world, Introspection.ADMINS, VIEWER, TYPO)
    assert "Did you mean 'name'" in admin["errors"][0]["message"]
    assert viewer["errors"][0]["message"] == "Cannot query field 'nam' on type 'Committee'."
    assert viewer["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


@pytest.mark.parametrize(("lifetime", "status"), [(24 * 3600, 200), (24 * 3600 + 1, 401)])
async def test_a_token_living_longer_than_the_limit_is_refused(
    demo_world: DemoWorld, lifetime: int, status: int
) -> None:
    token = demo_world.client.issuer.issue(VIEWER, lifetime)
    response = await demo_world.client.post("{ viewer { subject } }", {}, token=token)
    assert response.status_code == status
    if status == 401:
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
