"""/metrics, /health/live, /health/ready and the access log, driven over HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from config import Settings
from domain.unit_of_work import pause_before_retry
from graph.authentication import SIGN_IN_STATE_KEY, VIEWER_STATE_KEY
from graph.observability.access_log import COST_STATE_KEY, AccessLogMiddleware
from graph.observability.exposition import BoundedLabel, Counter, Histogram, Registry, render
from graph.observability.metrics import (
    REGISTRY,
    count_refusal,
    observe_cost,
    record_graphql_errors,
    write_retries,
)
from graph.request_ids import RequestIdMiddleware
from models import Role
from models.demo import CENTRAL_CODE
from permissions.authentication import SignIn
from tests.api import app_client
from tests.conftest import DemoWorld, demo_user

VIEWER_QUERY = "query ObservedViewer { viewer { subject } }"

# The exposition format, line by line (https://prometheus.io/docs/instrumenting/exposition_formats/).
_COMMENT = re.compile(r"# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)")
_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')
_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


@dataclass(frozen=True)
class Exposition:
    types: dict[str, str]
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    def value(self, name: str, **labels: str) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)


def parse_exposition(text: str) -> Exposition:
    """Every line must be a HELP, a TYPE or a sample of a declared metric; the body ends in \\n."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for line in text.splitlines():
        if comment := _COMMENT.fullmatch(line):
            if comment[1] == "TYPE":
                assert comment[3] in _TYPES, line
                types[comment[2]] = comment[3]
            continue
        sample = _SAMPLE.fullmatch(line)
        assert sample is not None, f"not a sample: {line!r}"
        name, label_text, value = sample[1], sample[2] or "", sample[3]
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or types.get(family) == "histogram", f"undeclared: {line!r}"
        labels = _LABEL.findall(label_text)
        assert "".join(f'{k}="{v}"{sep}' for k, v, sep in labels) == label_text, line
        key = (name, frozenset((k, _unescape(v)) for k, v, _sep in labels))
        assert key not in samples, f"sample twice: {line!r}"
        samples[key] = float(value)
    return Exposition(types, samples)


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], value)


async def scrape(http: httpx.AsyncClient, token: str | None = None) -> Exposition:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse_exposition(response.text)


def closed_port() -> int:
    """A local port nothing listens on (just released by the kernel)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_a_query_is_counted_by_operation_and_outcome(demo_world: DemoWorld) -> None:
    http = demo_world.client.http
    token = demo_world.client.token_for(demo_user(Role.ADMIN, CENTRAL_CODE))
    before = await scrape(http)
    response = await demo_world.client.post(VIEWER_QUERY, token=token)
    assert response.status_code == 200, response.text
    await demo_world.client.post("query ObservedBroken { noSuchField }", token=token)
    await demo_world.client.post(VIEWER_QUERY)  # no token
    after = await scrape(http)

    def grew(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    requests = "congress_graphql_requests_total"
    assert grew(requests, operation="ObservedViewer", outcome="ok") == 1
    assert grew(requests, operation="ObservedBroken", outcome="error") == 1
    # Whoever is not signed in shares one series, whatever they name their operations.
    assert grew(requests, operation="(unauthenticated)", outcome="refused_unauthenticated") == 1
    assert grew(requests, operation="ObservedViewer", outcome="refused_unauthenticated") == 0
    assert grew("congress_refusals_total", kind="unauthenticated") == 1
    duration = "congress_graphql_request_duration_seconds"
    assert after.types[duration] == "histogram"
    assert grew(f"{duration}_count", operation="ObservedViewer") == 1 + grew(
        requests, operation="ObservedViewer", outcome="refused_unauthenticated"
    )
    # Buckets are cumulative and the last one holds every observation.
    buckets = sorted(
        (float(dict(labels)["le"]), value)
        for (name, labels), value in after.samples.items()
        if name == f"{duration}_bucket" and ("operation", "ObservedViewer") in labels
    )
    assert [count for _bound, count in buckets] == sorted(count for _bound, count in buckets)
    assert buckets[-1] == (
        float("inf"),
        after.value(f"{duration}_count", operation="ObservedViewer"),
    )


async def test_the_pool_is_read_at_scrape_time(demo_world: DemoWorld) -> None:
    exposition = await scrape(demo_world.client.http)
    assert exposition.types["congress_db_pool_checked_out"] == "gauge"
    assert exposition.value("congress_db_pool_size") == 20  # models/database.py POOL_SIZE
    assert exposition.value("congress_db_pool_checked_out") >= 0


async def test_operation_names_are_sanitized(demo_world: DemoWorld) -> None:
    http = demo_world.client.http
    token = demo_world.client.token_for(demo_user(Role.ADMIN, CENTRAL_CODE))
    before = await scrape(http)
    await http.post(
        "/graphql",
        json={"query": "{ viewer { subject } }", "operationName": 'x"}\nevil 1'},
        headers={"Authorization": f"Bearer {token}"},
    )
    await http.post(
        "/graphql",
        json={"query": "{ viewer { subject } }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    after = await scrape(http)
    requests = "congress_graphql_requests_total"
    for operation in ("(invalid)", "(anonymous)"):
        grown = after.value(requests, operation=operation, outcome="error") + after.value(
            requests, operation=operation, outcome="ok"
        )
        was = before.value(requests, operation=operation, outcome="error") + before.value(
            requests, operation=operation, outcome="ok"
        )
        assert grown - was == 1, operation


async def test_the_metrics_token_guards_metrics(demo_world: DemoWorld) -> None:
    settings = demo_world.settings.with_(metrics_token="scrape-me")
    async with app_client(settings, demo_world.engine) as http:
        missing = await http.get("/metrics")
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer scrape-you"})
        assert await scrape(http, token="scrape-me")
    for refused in (missing, wrong):
        assert refused.status_code == 401
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert refused.headers["www-authenticate"].startswith("Bearer")


async def test_health_live_ready_and_the_old_health(demo_world: DemoWorld) -> None:
    http = demo_world.client.http
    live = await http.get("/health/live")
    ready = await http.get("/health/ready")
    old = await http.get("/health")
    assert (live.status_code, live.json()) == (200, {"status": "live"})
    assert (ready.status_code, ready.json()) == (
        200,
        {"status": "ready", "database": "ok", "degraded": [], "rateLimits": "per-worker"},
    )
    assert (old.status_code, old.json()) == (200, {"status": "ok"})


@pytest.fixture(params=["sqlite", "postgresql"])
async def unreachable_engine(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AsyncEngine]:
    """An engine whose database cannot be reached: a SQLite file in a missing directory (no
    create_engine here: it would create the directory), or a closed PostgreSQL port."""
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'congress.db'}"
        if request.param == "sqlite"
        else f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/congress"
    )
    engine = create_async_engine(url)
    yield engine
    await engine.dispose()


async def test_ready_is_503_when_the_database_is_unreachable(
    unreachable_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with app_client(Settings(data_dir=tmp_path), unreachable_engine) as http:
        live = await http.get("/health/live")
        ready = await http.get("/health/ready")
    assert live.status_code == 200
    assert ready.status_code == 503
    assert ready.headers["content-type"] == "application/json"
    assert ready.headers["retry-after"] == "5"
    assert ready.json() == {
        "status": "unavailable",
        "database": "unreachable",
        "reason": "database unreachable",
        "degraded": [],
        "rateLimits": "per-worker",
    }


async def test_ready_lists_redis_as_degraded_when_it_is_down(demo_world: DemoWorld) -> None:
    settings = demo_world.settings.with_(redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    async with app_client(settings, demo_world.engine) as http:
        ready = await http.get("/health/ready")
    assert (ready.status_code, ready.json()) == (
        200,
        {"status": "ready", "database": "ok", "degraded": ["redis"], "rateLimits": "per-worker"},
    )


async def test_ready_pings_a_working_redis(demo_world: DemoWorld) -> None:
    # Redis runs beside the tests (.ci/run starts it): without it this fails, not skips.
    settings = demo_world.settings.with_(redis_url="redis://127.0.0.1:6379/0")
    async with app_client(settings, demo_world.engine) as http:
        ready = await http.get("/health/ready")
    assert ready.json()["degraded"] == []
    assert ready.json()["rateLimits"] == "shared"


async def test_one_access_line_per_request(
    demo_world: DemoWorld, caplog: pytest.LogCaptureFixture
) -> None:
    subject = demo_user(Role.ADMIN, CENTRAL_CODE)
    token = demo_world.client.token_for(subject)
    with caplog.at_level(logging.INFO, logger="congress.access"):
        answered = await demo_world.client.post(VIEWER_QUERY, token=token)
        refused = await demo_world.client.post(VIEWER_QUERY)
        live = await demo_world.client.http.get("/health/live")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "congress.access"]
    assert [line["request_id"] for line in lines] == [
        response.headers["x-request-id"] for response in (answered, refused, live)
    ]
    first, second, third = lines
    assert set(first) == {
        "request_id",
        "method",
        "path",
        "status",
        "duration_ms",
        "subject",
        "operation",
        "outcome",
        "cost",
    }
    assert (first["subject"], first["operation"], first["status"], first["outcome"]) == (
        subject,
        "ObservedViewer",
        200,
        "ok",
    )
    assert isinstance(first["duration_ms"], float)
    assert first["duration_ms"] >= 0
    assert (second["subject"], second["status"], second["outcome"]) == (
        None,
        401,
        "refused_unauthenticated",
    )
    assert (third["path"], third["status"], third["operation"], third["cost"]) == (
        "/health/live",
        200,
        None,
        None,
    )


def _app_that_refuses(kind: str | None, cost: int | None, cost_in_state: int | None) -> Starlette:
    """A stand-in /graphql whose code calls the hooks other modules call."""

    async def graphql(request: Request) -> JSONResponse:
        await request.body()  # as strawberry does: the operation name is read from it
        # As authentication does: a signed-in request's operations are counted by name.
        setattr(request.state, SIGN_IN_STATE_KEY, SignIn(expires_at=0, subject="001090000001"))
        setattr(request.state, VIEWER_STATE_KEY, SimpleNamespace(subject="001090000001"))
        if cost is not None:
            observe_cost(cost)
        if cost_in_state is not None:
            setattr(request.state, COST_STATE_KEY, cost_in_state)
        if kind is not None:
            count_refusal(kind)
            return JSONResponse({"errors": [{"message": "no"}]}, status_code=429)
        record_graphql_errors()
        return JSONResponse({"data": None, "errors": [{"message": "partly"}]})

    return Starlette(
        routes=[Route("/graphql", graphql, methods=["POST"])],
        middleware=[Middleware(RequestIdMiddleware), Middleware(AccessLogMiddleware)],
    )


@pytest.mark.parametrize(
    ("kind", "cost", "cost_in_state", "outcome", "logged_cost"),
    [
        ("rate_limit", None, None, "refused_rate_limit", None),
        ("cost", 70_000, None, "refused_cost", 70_000),
        (None, 12, None, "error", 12),
        (None, 12, 34, "error", 34),
    ],
)
async def test_refusals_costs_and_errors_reach_the_outcome_and_the_line(
    caplog: pytest.LogCaptureFixture,
    kind: str | None,
    cost: int | None,
    cost_in_state: int | None,
    outcome: str,
    logged_cost: int | None,
) -> None:
    transport = httpx.ASGITransport(app=_app_that_refuses(kind, cost, cost_in_state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        before = _scrape_registry()
        with caplog.at_level(logging.INFO, logger="congress.access"):
            await http.post("/graphql", json={"query": "query Stub { a }"})
        after = _scrape_registry()
    [line] = [json.loads(r.getMessage()) for r in caplog.records if r.name == "congress.access"]
    assert (line["operation"], line["outcome"], line["cost"]) == ("Stub", outcome, logged_cost)
    requests = "congress_graphql_requests_total"
    assert (
        after.value(requests, operation="Stub", outcome=outcome)
        - before.value(requests, operation="Stub", outcome=outcome)
        == 1
    )
    if cost is not None:
        assert (
            after.value("congress_graphql_query_cost_count")
            - before.value("congress_graphql_query_cost_count")
            == 1
        )


def _scrape_registry() -> Exposition:
    return parse_exposition(render(REGISTRY.lines()))


async def test_a_write_retry_is_counted() -> None:
    before = write_retries.value()
    await pause_before_retry()
    assert write_retries.value() == before + 1


def test_label_values_are_escaped() -> None:
    registry = Registry()
    counter = registry.add(Counter("demo_total", 'Help with \\ and\nnewline "quoted".', ("who",)))
    counter.inc('a"b\\c\nd')
    text = render(registry.lines())
    assert 'demo_total{who="a\\"b\\\\c\\nd"} 1\n' in text
    assert '# HELP demo_total Help with \\\\ and\\nnewline "quoted".' in text
    assert parse_exposition(text).value("demo_total", who='a"b\\c\nd') == 1


def test_histogram_buckets_are_cumulative() -> None:
    registry = Registry()
    histogram = registry.add(Histogram("demo_seconds", "Demo.", (0.1, 1.0)))
    for value in (0.05, 0.1, 0.5, 3.0):
        histogram.observe(value)
    exposition = parse_exposition(render(registry.lines()))
    assert [exposition.value("demo_seconds_bucket", le=le) for le in ("0.1", "1", "+Inf")] == [
        2,
        3,
        4,
    ]
    assert exposition.value("demo_seconds_sum") == pytest.approx(3.65)
    assert exposition.value("demo_seconds_count") == 4


def test_client_chosen_labels_are_capped() -> None:
    label = BoundedLabel(limit=2)
    assert [label(name) for name in ("A", "B", "C", "A", "D")] == [
        "A",
        "B",
        "(other)",
        "A",
        "(other)",
    ]


async def test_a_document_of_comment_marks_is_logged_at_once(
    demo_world: DemoWorld, caplog: pytest.LogCaptureFixture
) -> None:
    """Finding the first operation's name takes one pass: a run of `#` once made the
    pattern for it backtrack without end, after the answer, on the event loop."""
    caplog.set_level(logging.INFO, logger="congress.access")
    async with asyncio.timeout(5):
        response = await demo_world.client.http.post("/graphql", json={"query": "#" * 5_000})
    assert response.status_code == 401
    lines = [json.loads(record.getMessage()) for record in caplog.records]
    assert lines[-1]["operation"] == "(anonymous)"
