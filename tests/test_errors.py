"""Bugs are logged with a request id and, in production, masked to a message carrying it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from config import Environment, Settings
from graph.app import create_app
from models import Role
from models.database import create_engine
from models.demo import CENTRAL_CODE, build_demo
from permissions.tokens import LocalIssuer
from tests.api import app_client
from tests.conftest import demo_user

CONGRESS_QUERY = '{ committee(code: "TW") { code congress { deadline } } }'


@pytest.fixture
async def production_client(
    empty_database_url: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """A production app whose congress table has gone missing: every congress read is a bug."""
    engine = create_engine(empty_database_url)
    await build_demo(engine, cells_per_commune=0)
    async with engine.begin() as connection:
        # Renamed away rather than dropped: other tables' foreign keys point at it.
        await connection.execute(text("ALTER TABLE congress RENAME TO congress_gone"))
    settings = Settings(
        data_dir=tmp_path,
        database_url=empty_database_url,
        environment=Environment.PRODUCTION,
        local_issuer_enabled=True,
        graphiql=False,
    )
    token = LocalIssuer.load_or_create(settings.signing_key_path).issue(
        demo_user(Role.ADMIN, CENTRAL_CODE), 600
    )
    async with app_client(settings, engine, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client
    await engine.dispose()


async def test_a_bug_is_masked_with_the_request_id(
    production_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="congress.errors"):
        response = await production_client.post("/graphql", json={"query": CONGRESS_QUERY})
    request_id = response.headers["x-request-id"]
    body = response.json()
    assert body["data"] == {"committee": {"code": "TW", "congress": None}}
    [error] = body["errors"]
    assert error["message"] == f"Unexpected error. Quote request id {request_id} when reporting it."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    assert "congress" not in error["message"].lower()
    [record] = [r for r in caplog.records if r.name == "congress.errors"]
    assert request_id in record.getMessage()
    assert record.exc_info is not None


async def test_client_errors_are_not_masked_in_production(
    production_client: httpx.AsyncClient,
) -> None:
    response = await production_client.post(
        "/graphql", json={"query": "{ committees(first: 500) { totalCount } }"}
    )
    assert response.json()["errors"][0]["message"] == "`first` must be between 0 and 100, got 500."


async def test_a_sane_request_id_from_the_caller_is_kept(
    production_client: httpx.AsyncClient,
) -> None:
    kept = await production_client.post(
        "/graphql",
        json={"query": "{ viewer { subject } }"},
        headers={"X-Request-ID": "proxy-1234abcd"},
    )
    replaced = await production_client.post(
        "/graphql",
        json={"query": "{ viewer { subject } }"},
        headers={"X-Request-ID": "bad id; drop"},
    )
    assert kept.headers["x-request-id"] == "proxy-1234abcd"
    assert replaced.headers["x-request-id"] != "bad id; drop"
    assert len(replaced.headers["x-request-id"]) == 32


async def test_graphiql_is_off_in_production(production_client: httpx.AsyncClient) -> None:
    response = await production_client.get(
        "/graphql", headers={"Accept": "text/html", "Authorization": ""}
    )
    assert response.status_code == 401


async def test_unauthenticated_answers_carry_a_request_id(
    production_client: httpx.AsyncClient,
) -> None:
    response = await production_client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Authorization": ""}
    )
    assert response.status_code == 401
    assert response.headers["x-request-id"]


def test_production_refuses_to_start_without_an_issuer(tmp_path: Path) -> None:
    settings = Settings.from_env({"CONGRESS_ENV": "production", "CONGRESS_DATA_DIR": str(tmp_path)})
    assert settings.local_issuer_enabled is False
    assert settings.graphiql is False
    with pytest.raises(RuntimeError, match="No token issuer configured"):
        create_app(settings)
