"""When the database fails, stalls or is locked, against `congress serve` over HTTP (README,
"When the database fails"): every answer is JSON with a code a client can act on and an
X-Request-ID, no driver or SQL text reaches it, the log records each incident once, a lock
held elsewhere costs a request its bound and not the server's every connection, and the
server comes back by itself. SIGTERM ends the server cleanly, with status 0."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.databases import POSTGRES_ADMIN_DSN
from tests.live_api import PROGRESS_EVENTS, closed_with, event_stream, signed_in
from tests.served import CELL, CONGRESS, READ, RECORD, REPORTER, Served, serving
from tests.tcp_proxy import tcp_proxy

RECORD_REPLAYED = """mutation($input: RecordMilestoneInput!) { recordMilestone(input: $input) {
  __typename ... on CongressPayload { replayed } ... on MutationError { message } } }"""
# What no answer may carry: the driver's words, the SQL, a socket's errno.
DRIVER_TEXT = ("asyncpg", "sqlite3", "Errno", "SELECT", "UPDATE", "connect call failed", "OSError")


async def difficulties_at(served: Served, committee_id: str) -> int:
    answer = await served.post(
        "query($u: ID!) { difficulties(under: $u) { totalCount } }", u=committee_id
    )
    count: int = answer.json()["data"]["difficulties"]["totalCount"]
    return count


def new_milestone(found: dict[str, Any]) -> dict[str, Any]:
    """A milestone for the committee `found` (its id and congress version), with a new key."""
    return {
        "committeeId": found["id"],
        "milestone": "plan_issued",
        "status": "IN_PROGRESS",
        "expectedVersion": found["congress"]["version"],
        "idempotencyKey": str(uuid.uuid4()),
    }


def assert_unavailable(answer: httpx.Response, *, whole: bool = True) -> None:
    """JSON with code UNAVAILABLE and a request id, in our words; 503 and Retry-After when
    the request failed as a whole."""
    assert answer.headers["content-type"].startswith("application/"), answer.text
    assert answer.headers.get("x-request-id"), answer.headers
    body = answer.json()
    codes = {error["extensions"]["code"] for error in body["errors"]}
    assert codes == {"UNAVAILABLE"}, body
    if whole:
        assert answer.status_code == 503, answer.text
        assert int(answer.headers["retry-after"]) >= 1
    for words in DRIVER_TEXT:
        assert words not in answer.text, answer.text


async def test_a_database_gone_is_answered_unavailable_and_the_server_comes_back(
    tmp_path: Path,
) -> None:
    """PostgreSQL behind a proxy that cuts every connection: reads, writes and exports are
    answered 503 UNAVAILABLE in JSON at once, the liveness probe still answers, the log has
    the incident once (no traceback per request), and the server recovers by itself."""
    target = make_url(POSTGRES_ADMIN_DSN)
    async with (
        tcp_proxy(target.host or "127.0.0.1", target.port or 5432) as proxy,
        serving("postgresql", tmp_path, proxy=proxy) as served,
    ):
        assert (await served.post(READ)).status_code == 200
        proxy.cut()
        token = served.issuer.issue(REPORTER, 600)
        async with httpx.AsyncClient(timeout=30) as client:
            for _ in range(10):
                started = time.monotonic()
                assert_unavailable(await served.post(READ))
                assert_unavailable(await served.post(RECORD, input={"committeeId": "x"}))
                export = await client.get(
                    f"{served.server.base_url}/reports/progress.csv",
                    params={"under": "X00004"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert_unavailable(export)
                assert time.monotonic() - started < 5
            live = await client.get(f"{served.server.base_url}/health/live")
            assert live.status_code == 200
        # A request that reads no data is let in on its token alone: no database.
        alive = await served.post("{ __typename }")
        assert alive.json() == {"data": {"__typename": "Query"}}, alive.text
        proxy.let_through()
        deadline = time.monotonic() + 2
        while (await served.post(READ)).status_code != 200:
            assert time.monotonic() < deadline, "not back within 2 s"
            await asyncio.sleep(0.1)
        log = served.log()
        assert "Traceback" not in log
        assert 1 <= log.count("database unreachable (request") <= 2, log


async def test_a_database_that_stops_answering_costs_a_request_its_time_budget(
    tmp_path: Path,
) -> None:
    """PostgreSQL behind a proxy that holds every byte both ways, closing nothing (a
    database or network that stops answering): a read and a write are answered 503 (the
    read UNAVAILABLE) once the request's time budget (2 s here) is spent, not after
    the operating system gives up on the socket; `{ __typename }` answers at once; when the
    bytes flow again, the server answers again by itself."""
    target = make_url(POSTGRES_ADMIN_DSN)
    async with (
        tcp_proxy(target.host or "127.0.0.1", target.port or 5432) as proxy,
        serving(
            "postgresql",
            tmp_path,
            proxy=proxy,
            environment={"CONGRESS_REQUEST_TIMEOUT_SECONDS": "2"},
        ) as served,
    ):
        found = (await served.post(CONGRESS, c=CELL)).json()["data"]["committee"]
        proxy.stall()
        started = time.monotonic()
        reading = asyncio.create_task(served.post(READ))
        writing = asyncio.create_task(
            served.post(
                RECORD,
                input=new_milestone(found),
            )
        )
        alive = await served.post("{ __typename }")
        assert alive.json() == {"data": {"__typename": "Query"}}
        assert time.monotonic() - started < 1
        read, write = await reading, await writing
        # The budget and its grace (2.5 s), the driver's wait a second past the statement
        # timeout, and up to 2 s for the stalled connection to be let go.
        assert time.monotonic() - started < 6.5
        assert_unavailable(read)
        assert "did not answer in time" in read.text
        # Stalled before it was sent to be committed: known not recorded (UNAVAILABLE); once
        # sent, it may have been (OUTCOME_UNKNOWN).
        assert write.status_code == 503, write.text
        [code] = [error["extensions"]["code"] for error in write.json()["errors"]]
        assert code in {"UNAVAILABLE", "OUTCOME_UNKNOWN"}
        assert write.headers.get("x-request-id")
        proxy.let_through()
        deadline = time.monotonic() + 5
        while (back := await served.post(CONGRESS, c=CELL)).status_code != 200:
            assert time.monotonic() < deadline, "not back within 5 s"
            await asyncio.sleep(0.2)
        version = back.json()["data"]["committee"]["congress"]["version"]
        if code == "UNAVAILABLE":
            assert version == found["congress"]["version"]
    # Nothing of a request outlived it waiting on the stalled connections (their rollbacks
    # included): the server stopped with no task left to cancel, and no traceback.
    log = served.log()
    assert "timeout graceful shutdown exceeded" not in log, log
    assert "Traceback" not in log, log


async def test_a_table_locked_elsewhere_costs_a_request_its_bound_only(tmp_path: Path) -> None:
    """`LOCK TABLE congress IN ACCESS EXCLUSIVE MODE` held by another session: a read and a
    write of a congress answer UNAVAILABLE after CONGRESS_LOCK_WAIT_SECONDS (1 s here), not
    after the lock is let go; `{ __typename }` and what needs no congress answer at once."""
    async with serving("postgresql", tmp_path) as served:
        dsn = make_url(served.database_url).set(drivername="postgresql").render_as_string(False)
        found = (await served.post(CONGRESS, c=CELL)).json()["data"]["committee"]
        holder = await asyncpg.connect(dsn)
        try:
            await holder.execute("BEGIN; LOCK TABLE congress IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            assert (await served.post("{ __typename }")).status_code == 200
            assert (await served.post("{ viewer { subject } }")).status_code == 200
            assert time.monotonic() - started < 1
            started = time.monotonic()
            # The planned read waits its bound once, and is not tried again field by field.
            assert_unavailable(await served.post(READ))
            assert time.monotonic() - started < 2
            started = time.monotonic()
            write = await served.post(
                RECORD,
                input=new_milestone(found),
            )
            assert_unavailable(write, whole=False)
            assert time.monotonic() - started < 5
        finally:
            await holder.execute("ROLLBACK")
            await holder.close()
        assert (await served.record("plan_issued")).json()["data"]["recordMilestone"][
            "__typename"
        ] == "CongressPayload"


async def test_requests_waiting_for_a_connection_give_up_after_their_bound(
    tmp_path: Path,
) -> None:
    """A lock held elsewhere ties up all 30 of a worker's connections: the requests past
    them wait CONGRESS_POOL_WAIT_SECONDS (1 s here) for one and answer UNAVAILABLE, not
    SQLAlchemy's 30 s and a plain-text 500; all are answered, in JSON, within the bounds."""
    environment = {
        "CONGRESS_LOCK_WAIT_SECONDS": "3",
        "CONGRESS_POOL_WAIT_SECONDS": "1",
        "CONGRESS_MAX_REQUESTS_IN_FLIGHT": "100",
    }
    async with serving("postgresql", tmp_path, environment=environment) as served:
        dsn = make_url(served.database_url).set(drivername="postgresql").render_as_string(False)
        holder = await asyncpg.connect(dsn)
        try:
            await holder.execute("BEGIN; LOCK TABLE congress IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            waiting = asyncio.gather(*(served.post(READ) for _ in range(45)))
            await asyncio.sleep(0.3)
            # Every connection is taken or waited for: what reads no data needs none.
            asked = time.monotonic()
            alive = await served.post("{ __typename }")
            assert alive.json() == {"data": {"__typename": "Query"}}, alive.text
            assert time.monotonic() - asked < 0.5
            answers = await waiting
            elapsed = time.monotonic() - started
        finally:
            await holder.execute("ROLLBACK")
            await holder.close()
        for answer in answers:
            assert_unavailable(answer, whole=False)
        assert any(answer.status_code == 503 for answer in answers)  # no connection at all
        assert elapsed < 8
        assert "database pool_exhausted" in served.log()
        assert (await served.post(READ)).status_code == 200


async def test_a_write_lock_held_by_another_process_stops_a_write_within_its_bound(
    tmp_path: Path,
) -> None:
    """SQLite: another connection holds the write lock. A write answers UNAVAILABLE within
    seconds (the lock wait across its retries is bounded), reads go on (WAL), and once the
    lock is let go the same write is recorded."""
    async with serving("sqlite", tmp_path) as served:
        path = make_url(served.database_url).database
        assert path
        holder = sqlite3.connect(path, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            started = time.monotonic()
            answer = await served.record("plan_issued")
            assert_unavailable(answer)
            assert time.monotonic() - started < 5
            assert (await served.post(READ)).status_code == 200
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        answer = await served.record("plan_issued")
        assert answer.json()["data"]["recordMilestone"]["__typename"] == "CongressPayload"
        assert "Traceback" not in served.log()


async def test_a_full_database_refuses_writes_unavailable_and_keeps_reading(
    tmp_path: Path,
) -> None:
    """SQLite capped below its size (CONGRESS_SQLITE_MAX_SIZE_MIB, SQLite's max_page_count,
    as a full disk): writes go on while free pages last, then each is refused 503
    UNAVAILABLE in its own words ("disk is full"), nothing of it recorded; reads and
    `{ __typename }` go on; the log has the incident, without a traceback per write."""
    async with serving(
        "sqlite", tmp_path, environment={"CONGRESS_SQLITE_MAX_SIZE_MIB": "1"}
    ) as served:
        committee_id = (await served.post(CONGRESS, c=CELL)).json()["data"]["committee"]["id"]
        before = await difficulties_at(served, committee_id)
        titles: list[str] = []
        for _ in range(500):
            title = f"full-{uuid.uuid4().hex}"
            answer = await served.raise_difficulty(committee_id, title, "x" * 5_000)
            if answer.status_code != 200:
                break
            assert answer.json()["data"]["raiseDifficulty"]["__typename"] == "DifficultyPayload"
            titles.append(title)
        else:
            raise AssertionError("500 difficulties of 5,000 characters fit under the cap")
        assert_unavailable(answer)
        assert answer.json()["errors"][0]["message"].startswith("The database's disk is full.")
        assert int(answer.headers["retry-after"]) >= 30
        assert await difficulties_at(served, committee_id) == before + len(titles)
        assert (await served.post("{ __typename }")).json() == {"data": {"__typename": "Query"}}
        log = served.log()
        assert "database disk_full" in log, log
        assert "Traceback" not in log


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_stopped_server_exits_cleanly_with_status_0(
    tmp_path: Path, stop: signal.Signals
) -> None:
    async with serving(
        "sqlite", tmp_path, environment={"CONGRESS_SHUTDOWN_TIMEOUT": "2"}
    ) as served:
        assert (await served.post(READ)).status_code == 200
        started = time.monotonic()
        served.server.process.send_signal(stop)
        status = await asyncio.to_thread(served.server.process.wait, 10)
        assert status == 0, served.log()
        assert time.monotonic() - started < 5


async def test_streams_are_closed_with_their_protocols_word_when_the_server_stops(
    tmp_path: Path,
) -> None:
    """SIGTERM with a websocket and an event stream open: the websocket is closed with 1012
    (service restart), the event stream is told UNAVAILABLE ("subscribe again") and
    completed, and neither holds the shutdown: the process exits 0 long before its bound."""
    async with serving(
        "sqlite", tmp_path, environment={"CONGRESS_SHUTDOWN_TIMEOUT": "15"}
    ) as served:
        token = served.issuer.issue(REPORTER, 600)
        url = served.server.graphql_url
        async with (
            signed_in(url.replace("http://", "ws://"), token) as socket,
            event_stream(url, token, PROGRESS_EVENTS) as stream,
        ):
            await socket.subscribe("events", PROGRESS_EVENTS)
            lines = stream.aiter_lines()
            assert stream.status_code == 200
            await asyncio.sleep(0.5)  # both subscribed
            started = time.monotonic()
            served.server.process.send_signal(signal.SIGTERM)
            code, _reason = await closed_with(socket.socket)
            assert code == 1012
            events: list[tuple[str, str]] = []
            async with asyncio.timeout(5):
                async for line in lines:
                    if line.startswith("event: "):
                        data = await anext(lines)
                        events.append((line.removeprefix("event: "), data))
            status = await asyncio.to_thread(served.server.process.wait, 15)
            stopped_after = time.monotonic() - started
        assert [name for name, _data in events] == ["next", "complete"], events
        error = json.loads(events[0][1].removeprefix("data: "))["errors"][0]
        assert error["extensions"]["code"] == "UNAVAILABLE"
        assert "stopping" in error["message"]
        assert status == 0, served.log()
        assert stopped_after < 5, stopped_after


async def test_a_request_stuck_at_shutdown_is_answered_and_the_server_exits_in_its_bound(
    tmp_path: Path,
) -> None:
    """SIGTERM while a request waits on a lock held elsewhere (its own bound 30 s): after
    CONGRESS_SHUTDOWN_TIMEOUT (2 s) the request is answered 503 OUTCOME_UNKNOWN in JSON
    (it was a POST: it may have written) and the process exits with status 0."""
    environment = {"CONGRESS_LOCK_WAIT_SECONDS": "30", "CONGRESS_SHUTDOWN_TIMEOUT": "2"}
    async with serving("postgresql", tmp_path, environment=environment) as served:
        dsn = make_url(served.database_url).set(drivername="postgresql").render_as_string(False)
        holder = await asyncpg.connect(dsn)
        try:
            await holder.execute("BEGIN; LOCK TABLE congress IN ACCESS EXCLUSIVE MODE")
            stuck = asyncio.create_task(served.post(READ))
            await asyncio.sleep(0.5)
            started = time.monotonic()
            served.server.process.send_signal(signal.SIGTERM)
            answer = await stuck
            answered_after = time.monotonic() - started
            status = await asyncio.to_thread(served.server.process.wait, 30)
            exited_after = time.monotonic() - started
        finally:
            await holder.execute("ROLLBACK")
            await holder.close()
        assert answer.status_code == 503, answer.text
        assert answer.json()["errors"][0]["extensions"]["code"] == "OUTCOME_UNKNOWN"
        assert answer.headers.get("x-request-id")
        assert 1.5 < answered_after < 4
        assert status == 0, served.log()
        assert exited_after < 6, exited_after


async def test_a_write_whose_commit_answer_is_lost_is_outcome_unknown_and_repeats_once(
    tmp_path: Path,
) -> None:
    """The connection is cut just after the write's COMMIT reached PostgreSQL: the answer is
    OUTCOME_UNKNOWN (503), not a failure; repeated with the same idempotencyKey once the
    database is back, it is answered as a replay, and the write exists once."""
    target = make_url(POSTGRES_ADMIN_DSN)
    async with (
        tcp_proxy(target.host or "127.0.0.1", target.port or 5432) as proxy,
        serving("postgresql", tmp_path, proxy=proxy) as served,
    ):
        found = (await served.post(CONGRESS, c=CELL)).json()["data"]["committee"]
        write = {
            "committeeId": found["id"],
            "milestone": "plan_issued",
            "status": "IN_PROGRESS",
            "occurredOn": "2026-11-30",
            "expectedVersion": found["congress"]["version"],
            "idempotencyKey": str(uuid.uuid4()),
        }
        proxy.cut_after(b"COMMIT")
        lost = await served.post(RECORD_REPLAYED, input=write)
        assert lost.status_code == 503, lost.text
        assert lost.headers.get("x-request-id")
        assert [error["extensions"]["code"] for error in lost.json()["errors"]] == [
            "OUTCOME_UNKNOWN"
        ]
        for words in DRIVER_TEXT:
            assert words not in lost.text
        proxy.let_through()
        deadline = time.monotonic() + 5
        while (repeated := await served.post(RECORD_REPLAYED, input=write)).status_code != 200:
            assert time.monotonic() < deadline, repeated.text
            await asyncio.sleep(0.2)
        answer = repeated.json()["data"]["recordMilestone"]
        assert answer == {"__typename": "CongressPayload", "replayed": True}, answer  # it was
        now = (await served.post(CONGRESS, c=CELL)).json()["data"]["committee"]["congress"]
        assert now["version"] == found["congress"]["version"] + 1
