"""Fields failing together never hang or crash a worker (a real server process, both backends).

graphql-core cancels the siblings of a non-null field that failed; a cancellation landing in
a database statement used to leave the request unanswered for ever and the worker unable to
shut down (models/shielded_session.py).
"""

from __future__ import annotations

import signal
import subprocess
from typing import Any

import httpx
import pytest

from bench.soak import Document, failing_families, replay
from tests.conftest import ServedWorld

pytestmark = pytest.mark.usefixtures("backend")

PROVINCE_VIEWER = "001090000004"
ANSWER_WITHIN_SECONDS = 10.0
SHUTDOWN_WITHIN_SECONDS = 15.0

THE_REPORTED_QUERY = (
    '{ good: committee(code: "X00004") { code } '
    'bad: committee(code: "T01") { code children(first: -1) { totalCount } } '
    'under: overdueCongresses(under: "bm9wZTox", first: 2) { totalCount } }'
)


async def _post(world: ServedWorld, query: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=ANSWER_WITHIN_SECONDS) as client:
        response = await client.post(
            world.server.graphql_url,
            json={"query": query},
            headers={"Authorization": f"Bearer {world.token_for(PROVINCE_VIEWER)}"},
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _stops_cleanly(world: ServedWorld) -> None:
    """Nothing a request left behind keeps the worker from a graceful shutdown."""
    world.server.process.send_signal(signal.SIGINT)
    try:
        world.server.process.wait(SHUTDOWN_WITHIN_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the server did not stop within {SHUTDOWN_WITHIN_SECONDS} s")


async def test_the_reported_query_is_answered_at_once(served_world: ServedWorld) -> None:
    body = await _post(served_world, THE_REPORTED_QUERY)

    # The non-null root field failed: no data at all, and its error says why.
    assert body["data"] is None
    assert {"path": ["under"], "code": "NOT_FOUND"} in [
        {"path": error["path"], "code": error["extensions"]["code"]} for error in body["errors"]
    ]
    _stops_cleanly(served_world)


def _root_fields(document: Document) -> set[str]:
    """The names of bench.soak's root fields that `document` (one of its families) holds."""
    return set(document.name.split(":", 1)[1].split(","))


async def test_every_order_of_failing_fields_is_answered(served_world: ServedWorld) -> None:
    for document in failing_families():
        body = await _post(served_world, document.query)
        fields = _root_fields(document)
        assert body.get("errors"), document.name
        codes = {error["extensions"]["code"] for error in body["errors"]}
        assert codes <= {"NOT_FOUND", "BAD_USER_INPUT"}, (document.name, body["errors"])
        if fields & {"non_null_fails", "items_fail"}:
            # A non-null root field failed (directly or through a non-null list item).
            assert body["data"] is None, document.name
            continue
        data = body["data"]
        if "good" in fields:
            assert data["good"] == {"code": "X00004", "congress": {"status": "NOT_STARTED"}}
        if "nullable_fails" in fields:
            assert data["bad"] is None
        if "batched" in fields:
            assert len(data["batch"]["nodes"]) == 5
    _stops_cleanly(served_world)


async def test_a_replay_with_errors_among_the_reads_keeps_the_worker_alive(
    served_world: ServedWorld,
) -> None:
    """bench/soak.py, short: the crash it guards against came after ~1,150 requests."""
    tokens = [served_world.token_for(subject) for subject in ("001090000003", PROVINCE_VIEWER)]
    report = await replay(served_world.server, tokens, requests=2_000, concurrency=8)

    assert report.misses(server_alive=served_world.server.process.poll() is None) == []
    assert report.requests == 2_000
    _stops_cleanly(served_world)
