"""Live updates across processes: a write on one server reaches a subscriber on another
(as on another worker or host), and a worker killed with SIGKILL loses nothing: its
subscriber resumes on the other with its last cursor and gets every change once."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from bench.progress_server import Server, start_server, stop_server, wait_until_ready
from config import Settings
from models import Role
from permissions.tokens import LocalIssuer
from tests.api import TOKEN_TTL_SECONDS
from tests.conftest import demo_cell_code, demo_user
from tests.databases import copied_database
from tests.live_api import PROGRESS_EVENTS, signed_in
from tests.progress_api import MILESTONES, RECORD_MILESTONE

PROVINCE_VIEWER = demo_user(Role.VIEWER, "T01")
CELL_REPORTER = demo_user(Role.REPORTER, demo_cell_code())
CELL_ID_QUERY = "query($code: String!) { committee(code: $code) { id } }"


@asynccontextmanager
async def two_servers(
    backend: str, demo_template: str, tmp_path: Path
) -> AsyncIterator[tuple[Server, Server, LocalIssuer]]:
    async with copied_database(backend, demo_template, tmp_path) as url:
        issuer = LocalIssuer.load_or_create(Settings(data_dir=tmp_path).signing_key_path)
        servers = [start_server(url, tmp_path, log_name=f"server-{n}.log") for n in (1, 2)]
        try:
            for server in servers:
                await wait_until_ready(server)
            yield servers[0], servers[1], issuer
        finally:
            for server in servers:
                stop_server(server)


def websocket_url(server: Server) -> str:
    return server.graphql_url.replace("http://", "ws://")


async def record_on(
    http: httpx.AsyncClient, server: Server, token: str, committee_id: str, milestone: str
) -> None:
    response = await http.post(
        server.graphql_url,
        json={
            "query": RECORD_MILESTONE,
            "variables": {
                "input": {
                    "committeeId": committee_id,
                    "milestone": milestone,
                    "status": "DONE",
                    "occurredOn": "2025-03-01",
                }
            },
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    assert body["data"]["recordMilestone"]["__typename"] == "CongressPayload", body


STARTED_EVENTS = 'congress_live_subscriptions_total{field="progressEvents",event="started"} '


async def subscribed_on(http: httpx.AsyncClient, server: Server, count: int) -> None:
    """Wait until `count` progressEvents subscriptions have started on `server` (its
    metrics say so): a write after this reaches them."""
    for _ in range(250):
        metrics = (await http.get(f"{server.base_url}/metrics")).text
        started = [line for line in metrics.splitlines() if line.startswith(STARTED_EVENTS)]
        if started and float(started[0].removeprefix(STARTED_EVENTS)) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{count} subscriptions did not start on {server.base_url}")


async def cell_id(http: httpx.AsyncClient, server: Server, token: str) -> str:
    response = await http.post(
        server.graphql_url,
        json={"query": CELL_ID_QUERY, "variables": {"code": demo_cell_code()}},
        headers={"Authorization": f"Bearer {token}"},
    )
    return str(response.json()["data"]["committee"]["id"])


async def test_a_write_on_one_server_reaches_a_subscriber_on_another(
    backend: str, demo_template: str, tmp_path: Path
) -> None:
    async with two_servers(backend, demo_template, tmp_path) as (writer, reader, issuer):
        writer_token = issuer.issue(CELL_REPORTER, TOKEN_TTL_SECONDS)
        async with (
            httpx.AsyncClient() as http,
            signed_in(
                websocket_url(reader), issuer.issue(PROVINCE_VIEWER, TOKEN_TTL_SECONDS)
            ) as client,
        ):
            await client.subscribe("1", PROGRESS_EVENTS)
            await asyncio.sleep(0.5)
            await record_on(
                http, writer, writer_token, await cell_id(http, writer, writer_token), MILESTONES[0]
            )
            event = (await client.next_data("1"))["progressEvents"]
            assert (event["kind"], event["committee"]["code"]) == ("MILESTONE", demo_cell_code())


async def test_a_killed_worker_loses_nothing_its_subscriber_resumes_elsewhere(
    backend: str, demo_template: str, tmp_path: Path
) -> None:
    async with two_servers(backend, demo_template, tmp_path) as (doomed, survivor, issuer):
        writer_token = issuer.issue(CELL_REPORTER, TOKEN_TTL_SECONDS)
        reader_token = issuer.issue(PROVINCE_VIEWER, TOKEN_TTL_SECONDS)
        async with httpx.AsyncClient() as http:
            cell = await cell_id(http, survivor, writer_token)
            received: list[str] = []
            cursor = None
            async with signed_in(websocket_url(doomed), reader_token) as client:
                await client.subscribe("1", PROGRESS_EVENTS)
                await subscribed_on(http, doomed, 1)
                await record_on(http, survivor, writer_token, cell, MILESTONES[0])
                event = (await client.next_data("1"))["progressEvents"]
                received.append(event["congress"]["milestone"])
                cursor = event["cursor"]
                # Killed mid-stream: no shutdown, no goodbye to its clients.
                os.kill(doomed.process.pid, signal.SIGKILL)
                doomed.process.wait()
                # Writes go on meanwhile, through the other server.
                for milestone in MILESTONES[1:4]:
                    await record_on(http, survivor, writer_token, cell, milestone)
                with pytest.raises(ConnectionClosed):  # the socket is gone
                    await client.next_data("1", within=2)
            async with signed_in(websocket_url(survivor), reader_token) as client:
                await client.subscribe("1", PROGRESS_EVENTS, after=cursor)
                for _ in range(3):
                    received.append(
                        (await client.next_data("1"))["progressEvents"]["congress"]["milestone"]
                    )
                await client.nothing_arrives()
            assert received == list(MILESTONES[:4])
