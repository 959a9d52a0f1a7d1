"""A revoked role or a deactivated user counts on the very next request, on every worker.

Two `congress serve` workers share the database; each request opens a new connection, so
the kernel hands them to either worker. Nothing about a viewer is kept between requests:
the user and their roles are read for every request that reads data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bench.progress_server import (
    Server,
    child_processes,
    cpu_seconds,
    start_server,
    stop_server,
    wait_until_ready,
)
from config import Settings
from graph.global_ids import GlobalId
from graph.resolvers.committees import COMMITTEE_TYPE
from graph.resolvers.users import USER_TYPE
from models import Committee, Role, User
from models.database import create_engine
from permissions.tokens import LocalIssuer
from tests.admin_api import DEACTIVATE_USER, REVOKE_ROLE
from tests.api import TOKEN_TTL_SECONDS
from tests.conftest import demo_user
from tests.databases import copied_database

PROVINCE = "T01"
PROVINCE_ADMIN = demo_user(Role.ADMIN, PROVINCE)
PROVINCE_VIEWER = demo_user(Role.VIEWER, PROVINCE)
PROVINCE_REPORTER = demo_user(Role.REPORTER, PROVINCE)
SEES_PROVINCE = '{ committee(code: "T01") { code } }'
# Enough fresh connections that both workers answer some (the kernel spreads them).
REQUESTS_AFTER_A_CHANGE = 24


@pytest.fixture
async def two_workers(
    backend: str, demo_template: str, tmp_path: Path
) -> AsyncIterator[tuple[Server, LocalIssuer, dict[str, str]]]:
    async with copied_database(backend, demo_template, tmp_path) as url:
        engine = create_engine(url)
        async with engine.connect() as connection:
            users = dict(
                (
                    await connection.execute(
                        select(User.subject, User.id).where(
                            User.subject.in_([PROVINCE_VIEWER, PROVINCE_REPORTER])
                        )
                    )
                ).all()
            )
            committee_id = await connection.scalar(
                select(Committee.id).where(Committee.code == PROVINCE)
            )
        await engine.dispose()
        assert committee_id is not None
        ids = {
            "viewer": str(GlobalId(USER_TYPE, users[PROVINCE_VIEWER])),
            "reporter": str(GlobalId(USER_TYPE, users[PROVINCE_REPORTER])),
            "committee": str(GlobalId(COMMITTEE_TYPE, committee_id)),
        }
        issuer = LocalIssuer.load_or_create(Settings(data_dir=tmp_path).signing_key_path)
        server = start_server(url, tmp_path, workers=2)
        try:
            await wait_until_ready(server)
            yield server, issuer, ids
        finally:
            stop_server(server)


async def _post(
    server: Server, issuer: LocalIssuer, subject: str, query: str, **variables: Any
) -> httpx.Response:
    # A new client, so a new connection, for every request.
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(
            server.graphql_url,
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {issuer.issue(subject, TOKEN_TTL_SECONDS)}"},
        )


async def _answers(server: Server, issuer: LocalIssuer, subject: str) -> list[Any]:
    """What `subject` gets for the province, over fresh connections: the data, or 401."""
    answers: list[Any] = []
    for _ in range(REQUESTS_AFTER_A_CHANGE):
        response = await _post(server, issuer, subject, SEES_PROVINCE)
        answers.append(response.json()["data"]["committee"] if response.status_code == 200 else 401)
        assert response.status_code in (200, 401), response.text
    return answers


async def test_a_revoked_role_and_a_deactivation_count_at_once_on_every_worker(
    two_workers: tuple[Server, LocalIssuer, dict[str, str]],
) -> None:
    server, issuer, ids = two_workers
    workers = child_processes(server.process.pid)
    before = [cpu_seconds(worker) for worker in workers]
    sees_it = [{"code": PROVINCE}] * REQUESTS_AFTER_A_CHANGE
    assert await _answers(server, issuer, PROVINCE_REPORTER) == sees_it
    assert await _answers(server, issuer, PROVINCE_VIEWER) == sees_it
    # Both workers answered some of those requests: each spent CPU on them (uvicorn's
    # supervisor has one more child, which answers nothing).
    spent = [cpu_seconds(worker) - cpu for worker, cpu in zip(workers, before, strict=True)]
    assert sum(seconds >= 0.02 for seconds in spent) >= 2, spent

    revoked = await _post(
        server, issuer, PROVINCE_ADMIN, REVOKE_ROLE,
        input={"userId": ids["reporter"], "committeeId": ids["committee"]},
    )  # fmt: skip
    assert revoked.json()["data"]["revokeRole"]["__typename"] == "RolePayload", revoked.text
    # No role left: the province does not exist for them, on whichever worker answers.
    assert await _answers(server, issuer, PROVINCE_REPORTER) == [None] * REQUESTS_AFTER_A_CHANGE

    deactivated = await _post(
        server, issuer, PROVINCE_ADMIN, DEACTIVATE_USER, input={"userId": ids["viewer"]}
    )
    payload = deactivated.json()["data"]["deactivateUser"]
    assert payload["__typename"] == "UserActivePayload", deactivated.text
    assert await _answers(server, issuer, PROVINCE_VIEWER) == [401] * REQUESTS_AFTER_A_CHANGE
