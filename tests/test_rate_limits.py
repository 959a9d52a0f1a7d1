"""Rate limits over HTTP: every user spends the cost of what they ask from their role's
quota, every answer says what is left, a spent quota is a 429 that loses nothing, bad
tokens are limited per address before they cost anything, and the quotas are shared
through Redis, falling back to each worker's own while Redis is down."""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.progress_server import (
    child_processes,
    cpu_seconds,
    free_port,
    start_server,
    stop_server,
    wait_until_ready,
)
from config import Settings
from config.settings import DEFAULT_RATE_LIMITS
from graph.app import create_app
from graph.rate_limits import buckets as buckets_module
from models import Role
from models.demo import CENTRAL_CODE
from permissions.tokens import LocalIssuer
from tests.admin_api import committee_gid
from tests.api import TOKEN_TTL_SECONDS, GraphQLClient, counted_statements
from tests.conftest import DemoWorld, demo_user
from tests.databases import copied_database
from tests.progress_api import RECORD_MILESTONE, congress_of
from tests.test_observability import scrape

CELL = "X00004-001"
CELL_VIEWER = demo_user(Role.VIEWER, CELL)
CELL_REPORTER = demo_user(Role.REPORTER, CELL)
PROVINCE_VIEWER = demo_user(Role.VIEWER, "T01")
CENTRAL_ADMIN = demo_user(Role.ADMIN, CENTRAL_CODE)
TYPENAME = "{ __typename }"
# A page of a hundred committees with two fields each: it costs 302.
PAGE = '{ committee(code: "X00004") { children(first: 100) { nodes { code name } } } }'
# `{ __typename }` costs 1 (graph/schema/cost.py), and every request 100 more.
TYPENAME_CHARGE = 101
_LIMIT = re.compile(r'"(?P<name>[a-z-]+)";r=(?P<r>\d+);t=(?P<t>\d+)')


def remaining(response: httpx.Response) -> int:
    found = _LIMIT.fullmatch(response.headers["ratelimit"])
    assert found is not None, response.headers["ratelimit"]
    return int(found["r"])


def quotas(**changes: int) -> tuple[tuple[str, int], ...]:
    return tuple({**dict(DEFAULT_RATE_LIMITS), **changes}.items())


@asynccontextmanager
async def serving(
    world: DemoWorld, client: tuple[str, int] = ("10.0.0.1", 50000), **settings: Any
) -> AsyncIterator[GraphQLClient]:
    """The demo served by an app of its own, with these settings, to one client address."""
    async with serving_addresses(world, [client], **settings) as [served]:
        yield served


@asynccontextmanager
async def serving_addresses(
    world: DemoWorld, clients: list[tuple[str, int]], **settings: Any
) -> AsyncIterator[list[GraphQLClient]]:
    """One app of its own, with these settings, and a client at each of these addresses."""
    app = create_app(world.settings.with_(**settings), engine=world.engine)
    async with AsyncExitStack() as stack:
        served = []
        for client in clients:
            transport = httpx.ASGITransport(app=app, client=client)
            http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
            served.append(GraphQLClient(await stack.enter_async_context(http), world.client.issuer))
        try:
            yield served
        finally:
            # What the app's lifespan would close (an ASGI transport does not run it).
            await app.state.rate_limit_buckets.close()


async def as_user(
    client: GraphQLClient, subject: str, query: str = TYPENAME, **headers: str
) -> httpx.Response:
    return await client.http.post(
        "/graphql",
        json={"query": query},
        headers={"Authorization": f"Bearer {client.token_for(subject)}", **headers},
    )  # fmt: skip


async def test_every_answer_says_the_quota_of_the_role_and_what_is_left(
    demo_world: DemoWorld,
) -> None:
    page = '{ committee(code: "X00004") { children(first: 100) { nodes { code } } } }'
    async with serving(demo_world, rate_limits=DEFAULT_RATE_LIMITS) as client:
        answers: list[tuple[httpx.Response, float]] = []
        # A page of a hundred codes costs 201 (the page, its nodes and their codes); a
        # syntax error never gets to its cost and pays for the request alone.
        for query, charge in [(TYPENAME, 101), (TYPENAME, 101), (page, 301), ("{ committee(", 100)]:
            sent_at = time.monotonic()
            response = await as_user(client, CELL_VIEWER, query)
            answers.append((response, sent_at))
            assert response.status_code == 200
            assert response.headers["ratelimit-policy"] == '"viewer";q=30000;w=60;qu="cost"'
            if len(answers) == 1:
                assert 30_000 - charge <= remaining(response) <= 30_000
                continue
            (before, at), after = answers[-2], remaining(response)
            # What flowed back in since the previous request was sent, at 500 a second, is
            # added back (and each `r` is rounded down).
            refilled = math.ceil(500 * (time.monotonic() - at)) + 2
            assert remaining(before) - charge <= after <= remaining(before) - charge + refilled
        # `{ __typename }` reads no data, so no user is read for it: until this worker has
        # read the admin once, it is charged at the smallest quota; from then on, at theirs.
        unread = await as_user(client, CENTRAL_ADMIN)
        admin = await as_user(client, CENTRAL_ADMIN, "{ viewer { subject } }")
        admin_typename = await as_user(client, CENTRAL_ADMIN)
    assert unread.headers["ratelimit-policy"] == '"viewer";q=30000;w=60;qu="cost"'
    assert admin.headers["ratelimit-policy"] == '"admin";q=60000;w=60;qu="cost"'
    assert admin_typename.headers["ratelimit-policy"] == '"admin";q=60000;w=60;qu="cost"'
    assert remaining(admin_typename) >= 30_000 - 3 * TYPENAME_CHARGE


async def test_a_spent_quota_is_a_429_until_it_fills_again(demo_world: DemoWorld) -> None:
    # 1,200 a minute: twenty units a second flow back, twelve `{ __typename }` spend it.
    async with serving(demo_world, rate_limits=quotas(viewer=1_200)) as client:
        answered = 0
        while (refused := await as_user(client, CELL_VIEWER)).status_code == 200:
            answered += 1
            assert answered < 20
        refused_graphql_json = await as_user(
            client, CELL_VIEWER, accept="application/graphql-response+json"
        )
        other_user = await as_user(client, PROVINCE_VIEWER)
        retry_after = int(refused.headers["retry-after"])
        await asyncio.sleep(retry_after + 0.1)
        again = await as_user(client, CELL_VIEWER)
    # Twelve, and one more for every 5 s the loop took (a slow machine).
    assert 12 <= answered <= 14
    for response in (refused, refused_graphql_json):
        assert response.status_code == 429
        # A debt of at most 100 units, at twenty a second.
        assert 1 <= int(response.headers["retry-after"]) <= 6
        assert response.headers["ratelimit"].startswith('"viewer";r=0;t=')
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["policy"] == "viewer"
        assert error["extensions"]["retryAfterSeconds"] == int(response.headers["retry-after"])
        assert "Try again in" in error["message"]
    # Each user has a bucket of their own.
    assert other_user.status_code == 200
    assert again.status_code == 200, again.text


async def test_a_costly_operation_runs_on_a_non_empty_bucket_and_leaves_a_debt(
    demo_world: DemoWorld,
) -> None:
    # A quota smaller than one operation still lets it through once; the debt is paid
    # back before the next is let in.
    async with serving(demo_world, rate_limits=quotas(viewer=60)) as client:
        costly = await as_user(client, CELL_VIEWER, PAGE)
        next_one = await as_user(client, CELL_VIEWER)
    assert costly.status_code == 200
    assert "errors" not in costly.json()
    assert next_one.status_code == 429
    # A debt of about 340 (the page's 302 and the request's 100, less the 60 held) at one
    # unit a second.
    assert 335 <= int(next_one.headers["retry-after"]) <= 350


async def test_a_spent_users_requests_are_refused_before_their_token_is_read(
    demo_world: DemoWorld,
) -> None:
    async with serving(demo_world, rate_limits=quotas(viewer=60)) as client:
        headers = {"Authorization": f"Bearer {client.token_for(CELL_VIEWER)}"}
        spent = await client.http.post("/graphql", json={"query": PAGE}, headers=headers)
        with counted_statements(demo_world.engine) as statements:
            refused = [
                await client.http.post("/graphql", json={"query": TYPENAME}, headers=headers)
                for _ in range(20)
            ]
    assert spent.status_code == 200
    assert {response.status_code for response in refused} == {429}
    # Neither the user nor their roles were read again: the token was known to this worker.
    assert statements == []


async def test_a_mutation_refused_for_the_rate_is_not_recorded_and_can_be_sent_again(
    fresh_world: DemoWorld,
) -> None:
    key = str(uuid.uuid4())
    committee = await committee_gid(fresh_world, CELL)
    variables: dict[str, Any] = {
        "input": {
            "committeeId": committee,
            "milestone": "plan_issued",
            "status": "DONE",
            "occurredOn": "2025-03-01",
            "idempotencyKey": key,
        }
    }
    body = {"query": RECORD_MILESTONE, "variables": variables}
    async with serving(fresh_world, rate_limits=quotas(reporter=60)) as client:
        headers = {"Authorization": f"Bearer {client.token_for(CELL_REPORTER)}"}
        # One costly read spends the quota (with a debt of about 300).
        assert (await as_user(client, CELL_REPORTER, PAGE)).status_code == 200
        refused = await client.http.post("/graphql", json=body, headers=headers)
    assert refused.status_code == 429
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert (await congress_of(fresh_world, CELL_REPORTER, CELL))["history"]["totalCount"] == 0
    # Sent again once the quota allows (here: a server with the default quotas).
    sent_again = await fresh_world.client.post(
        RECORD_MILESTONE, variables, token=fresh_world.client.token_for(CELL_REPORTER)
    )
    result = sent_again.json()["data"]["recordMilestone"]
    assert (result["__typename"], result["replayed"]) == ("CongressPayload", False)
    assert (await congress_of(fresh_world, CELL_REPORTER, CELL))["history"]["totalCount"] == 1


async def test_an_export_pays_its_cost_and_is_refused_like_a_query(demo_world: DemoWorld) -> None:
    async with serving(demo_world, rate_limits=quotas(viewer=3_000)) as client:
        headers = {"Authorization": f"Bearer {client.token_for(PROVINCE_VIEWER)}"}
        first = await client.http.get("/reports/progress.csv?under=T01", headers=headers)
        second = await client.http.get("/reports/progress.csv?under=T01", headers=headers)
        third = await client.http.get("/reports/progress.csv?under=T01", headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.headers["content-type"].startswith("text/csv")
    # 2,000 for the export and 100 for the request.
    assert 3_000 - 2_100 <= remaining(first) <= 3_000 - 2_100 + 5
    assert third.status_code == 429
    assert third.headers["content-type"] == "application/json"
    assert third.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_failed_authentication_is_limited_per_address_before_the_token_is_read(
    demo_world: DemoWorld, caplog: pytest.LogCaptureFixture
) -> None:
    bad = {"Authorization": "Bearer not-a-token", "Accept": "application/graphql-response+json"}
    addresses = [("10.0.0.7", 1), ("10.0.0.8", 1), ("2001:db8:1:2::1", 1), ("2001:db8:1:2::99", 1)]
    async with serving_addresses(demo_world, addresses, failed_auth_per_minute=3) as clients:
        flooding, elsewhere, ipv6, same_ipv6_network = clients
        # An official behind the same address, signed in before the flood.
        official = flooding.token_for(PROVINCE_VIEWER)
        before = await flooding.post(TYPENAME, token=official)
        failures = [await flooding.http.post("/graphql", json={"query": TYPENAME}, headers=bad) for _ in range(3)]  # fmt: skip
        caplog.clear()
        with counted_statements(demo_world.engine) as statements:
            refused = [await flooding.http.post("/graphql", json={"query": TYPENAME}, headers=bad) for _ in range(20)]  # fmt: skip
        still_official = await flooding.post(TYPENAME, token=official)
        # A valid token the worker has not seen passes: its signature is checked.
        newcomer = await flooding.post(TYPENAME, token=flooding.token_for(CELL_VIEWER))
        other_address = await elsewhere.http.post("/graphql", json={"query": TYPENAME}, headers=bad)
        ipv6_failures = [await ipv6.http.post("/graphql", json={"query": TYPENAME}, headers=bad) for _ in range(3)]  # fmt: skip
        same_network = await same_ipv6_network.http.post(
            "/graphql", json={"query": TYPENAME}, headers=bad
        )
    assert before.status_code == 200
    assert [failure.status_code for failure in failures] == [401] * 3
    assert failures[0].headers["ratelimit-policy"] == '"failed-authentication";q=3;w=60'
    assert [remaining(failure) for failure in failures] == [2, 1, 0]
    assert {response.status_code for response in refused} == {429}
    assert refused[0].headers["content-type"] == "application/graphql-response+json"
    assert refused[0].json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    # Three failures a minute: one flows back every 20 s.
    assert 19 <= int(refused[0].headers["retry-after"]) <= 20
    assert (
        refused[0].headers["ratelimit"]
        == f'"failed-authentication";r=0;t={refused[0].headers["retry-after"]}'
    )
    # Refused before the database or the verifier's complaint in the log.
    assert statements == []
    assert not [record for record in caplog.records if "token refused" in record.getMessage()]
    assert still_official.status_code == 200
    assert newcomer.status_code == 200
    assert other_address.status_code == 401
    # An IPv6 client is limited by its /64, whichever address in it it takes.
    assert [failure.status_code for failure in ipv6_failures] == [401] * 3
    assert same_network.status_code == 429


async def test_the_refusals_are_counted_in_the_metrics(demo_world: DemoWorld) -> None:
    # 200 a minute: the first leaves 99, the second a debt, the next two are refused.
    async with serving(demo_world, rate_limits=quotas(viewer=200)) as client:
        before = (await scrape(client.http)).samples
        statuses = [(await as_user(client, CELL_VIEWER)).status_code for _ in range(4)]
        after = (await scrape(client.http)).samples
    assert statuses == [200, 200, 429, 429]
    key = ("congress_refusals_total", frozenset({("kind", "rate_limit")}))
    assert after[key] - before.get(key, 0) == 2
    assert after[("congress_rate_limits_shared", frozenset())] == 0


# --- Shared through Redis -------------------------------------------------------------


def redis_settings(url: str = "redis://127.0.0.1:6379/0", **changes: Any) -> dict[str, Any]:
    """Settings of an app using Redis under a key prefix of its own (Redis outlives tests)."""
    return {
        "redis_url": url,
        "redis_key_prefix": f"test-{uuid.uuid4()}:",
        "rate_limits": DEFAULT_RATE_LIMITS,
        **changes,
    }


async def test_two_apps_spend_one_quota_through_redis(demo_world: DemoWorld) -> None:
    # Redis runs beside the tests (.ci/run starts it): without it this fails, not skips.
    shared = redis_settings(rate_limits=quotas(viewer=1_200))
    async with serving(demo_world, **shared) as one, serving(demo_world, **shared) as other:
        # Each app's connection to Redis opened first (the readiness probe pings it): a
        # charge gives Redis 250 ms, and opening a connection on a loaded machine once took
        # longer, so that charge went to the worker's own bucket.
        for app in (one, other):
            assert (await app.http.get("/health/ready")).json()["rateLimits"] == "shared"
        spent = [await as_user(client, CELL_VIEWER) for client in [one, other] * 5]
        left = [remaining(response) for response in spent]
        # Spend the rest through one app, leaving a debt of a few hundred (many seconds at
        # twenty a second): the other then refuses, though it has not refused this user.
        for _ in range(5):
            if (last := await as_user(one, CELL_VIEWER, PAGE)).status_code == 429:
                break
        refused = await as_user(other, CELL_VIEWER)
        ready = await one.http.get("/health/ready")
        metrics = (await scrape(one.http)).samples
    # One bucket: what either app spends, the other sees gone.
    assert left == sorted(left, reverse=True)
    assert len(set(left)) == 10
    # What flowed back meanwhile, at twenty a second, is at most a few units.
    assert left[-1] <= 1_200 - 10 * TYPENAME_CHARGE + 40
    assert last.status_code == 429
    assert refused.status_code == 429
    assert ready.json()["rateLimits"] == "shared"
    assert metrics[("congress_rate_limits_shared", frozenset())] == 1


@contextmanager
def private_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Redis server of this test's own, which it may stop and start."""
    server = shutil.which("redis-server")
    assert server is not None, "redis-server is not installed"
    port = free_port()
    command = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        process.kill()
        process.wait()


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


async def test_with_redis_down_each_worker_keeps_its_own_quota_and_says_so(
    demo_world: DemoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(buckets_module, "REDIS_RETRY_SECONDS", 0.5)
    with private_redis() as (url, redis):
        async with serving(demo_world, **redis_settings(url, rate_limits=quotas(viewer=1_200))) as client:  # fmt: skip
            shared = await as_user(client, CELL_VIEWER)
            redis.kill()
            redis.wait()
            started = time.monotonic()
            answered = [await as_user(client, CELL_VIEWER) for _ in range(3)]
            took = time.monotonic() - started
            ready = await client.http.get("/health/ready")
            metrics = (await scrape(client.http)).samples
            # Its own bucket refuses too, once spent.
            while (await as_user(client, CELL_VIEWER)).status_code == 200:
                pass
    assert shared.status_code == 200
    assert [response.status_code for response in answered] == [200] * 3
    assert all("ratelimit" in response.headers for response in answered)
    assert took < 2.0
    assert ready.status_code == 200
    assert ready.json()["degraded"] == ["redis"]
    assert ready.json()["rateLimits"] == "per-worker"
    assert metrics[("congress_rate_limits_shared", frozenset())] == 0
    assert metrics[("congress_redis_failures_total", frozenset())] >= 1


async def test_a_stalled_redis_costs_a_request_a_quarter_second_at_most(
    demo_world: DemoWorld, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(buckets_module, "REDIS_RETRY_SECONDS", 60.0)
    with private_redis() as (url, redis):
        async with serving(demo_world, **redis_settings(url)) as client:
            assert (await as_user(client, CELL_VIEWER)).status_code == 200
            started = time.monotonic()
            assert (await as_user(client, CELL_VIEWER)).status_code == 200
            usual = time.monotonic() - started
            redis.send_signal(signal.SIGSTOP)
            try:
                # Ten at once while Redis stalls: they all wait for its timeout together.
                started = time.monotonic()
                together = await asyncio.gather(*[as_user(client, CELL_VIEWER) for _ in range(10)])  # fmt: skip
                first_ten = time.monotonic() - started
                timings = []
                for _ in range(5):
                    started = time.monotonic()
                    response = await as_user(client, CELL_VIEWER)
                    timings.append(time.monotonic() - started)
                    assert response.status_code == 200
                metrics = (await scrape(client.http)).samples
            finally:
                redis.send_signal(signal.SIGCONT)
    assert {response.status_code for response in together} == {200}
    # The ten wait for Redis's timeout (0.25 s) once, together; the rest do not ask it
    # again for a while.
    assert first_ten < 10 * usual + 1.0
    assert max(timings) < usual + 0.2
    assert metrics[("congress_rate_limits_shared", frozenset())] == 0
    # Said once, not once a request.
    said = [record for record in caplog.records if "Redis did not answer" in record.getMessage()]
    assert len(said) == 1


async def test_redis_is_used_again_once_it_is_back(
    demo_world: DemoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(buckets_module, "REDIS_RETRY_SECONDS", 0.3)
    with private_redis() as (url, redis):
        async with serving(demo_world, **redis_settings(url)) as client:
            redis.send_signal(signal.SIGSTOP)
            await as_user(client, CELL_VIEWER)
            down = (await client.http.get("/health/ready")).json()["rateLimits"]
            redis.send_signal(signal.SIGCONT)
            await asyncio.sleep(0.4)
            await as_user(client, CELL_VIEWER)
            up = (await client.http.get("/health/ready")).json()["rateLimits"]
    assert (down, up) == ("per-worker", "shared")


async def test_two_worker_processes_share_one_quota(
    backend: str, demo_template: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`congress serve --workers 2`: the kernel hands fresh connections to either worker,
    and both spend from the one bucket in Redis."""
    for name, value in {
        "CONGRESS_REDIS_URL": "redis://127.0.0.1:6379/0",
        "CONGRESS_REDIS_KEY_PREFIX": f"test-{uuid.uuid4()}:",
        "CONGRESS_RATE_LIMITS": "viewer=5000",
    }.items():
        monkeypatch.setenv(name, value)
    async with copied_database(backend, demo_template, tmp_path) as url:
        issuer = LocalIssuer.load_or_create(Settings(data_dir=tmp_path).signing_key_path)
        token = issuer.issue(CELL_VIEWER, TOKEN_TTL_SECONDS)
        server = start_server(url, tmp_path, workers=2)
        try:
            await wait_until_ready(server)
            workers = child_processes(server.process.pid)
            cpu_before = {pid: cpu_seconds(pid) for pid in workers}
            left: list[tuple[float, int]] = []  # (when, what the quota had left)
            statuses: list[int] = []
            for _ in range(60):
                # A connection of its own each time, so either worker may answer.
                async with httpx.AsyncClient() as http:
                    response = await http.post(
                        server.graphql_url,
                        json={"query": TYPENAME},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                statuses.append(response.status_code)
                if response.status_code == 200:
                    left.append((time.monotonic(), remaining(response)))
            cpu_after = {pid: cpu_seconds(pid) for pid in workers}
        finally:
            stop_server(server)
    # Both workers answered some (uvicorn's supervisor has one more child, which answers
    # nothing).
    spent = [cpu_after[pid] - cpu_before[pid] for pid in workers]
    assert sum(seconds >= 0.02 for seconds in spent) >= 2, spent
    # One bucket for both: what is left only goes down, but for what the bucket refills
    # meanwhile (5,000 a minute: a slow machine's pause between two requests shows it);
    # two buckets would each start full. And 5,000 last about 50 requests.
    refill_per_second = 5000 / 60
    for (earlier, had), (later, has) in itertools.pairwise(left):
        assert has <= had + math.ceil(refill_per_second * (later - earlier)), left
    assert statuses[:45] == [200] * 45
    assert 429 in statuses


def test_rate_limits_are_read_from_the_environment() -> None:
    default = Settings.from_env({})
    assert dict(default.rate_limits) == {
        "viewer": 30_000,
        "reporter": 30_000,
        "approver": 30_000,
        "admin": 60_000,
    }
    changed = Settings.from_env({"CONGRESS_RATE_LIMITS": "admin=100000, viewer=5000"})
    assert dict(changed.rate_limits) == {
        "viewer": 5_000,
        "reporter": 30_000,
        "approver": 30_000,
        "admin": 100_000,
    }
    assert Settings.from_env({"CONGRESS_RATE_LIMITS": "off"}).rate_limits == ()
    assert Settings.from_env(changed.to_env()).rate_limits == changed.rate_limits
    assert Settings.from_env({"CONGRESS_FAILED_AUTH_PER_MINUTE": "7"}).failed_auth_per_minute == 7
    with pytest.raises(ValueError, match="role=quota"):
        Settings.from_env({"CONGRESS_RATE_LIMITS": "viewer:5"})
    for out_of_range in ("viewer=0", "viewer=1000000000000000"):
        with pytest.raises(ValueError, match="from 1 to"):
            Settings.from_env({"CONGRESS_RATE_LIMITS": out_of_range})
    with pytest.raises(ValueError, match="gives viewer twice"):
        Settings.from_env({"CONGRESS_RATE_LIMITS": "viewer=5,viewer=6"})
    # Refused when the settings are read, before `congress serve` starts its workers.
    with pytest.raises(ValueError, match="names no role chairman"):
        Settings.from_env({"CONGRESS_RATE_LIMITS": "chairman=5"})


def test_an_unknown_role_is_refused_with_the_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="names no role chairman"):
        Settings(data_dir=tmp_path, rate_limits=quotas(chairman=5))


def test_production_refuses_to_serve_without_rate_limits() -> None:
    production = Settings.from_env({"CONGRESS_ENV": "production"})
    assert production.unsafe_in_production() == []
    off = production.with_(rate_limits=(), failed_auth_per_minute=0)
    problems = " ".join(off.unsafe_in_production())
    assert "CONGRESS_RATE_LIMITS=off" in problems
    assert "CONGRESS_FAILED_AUTH_PER_MINUTE=0" in problems
