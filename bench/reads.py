"""Nested reads against the floor every request stands on, measured in one run.

    python -m bench.reads [--backends sqlite,postgresql] [--cells-per-commune 300]
                          [--seconds 12] [--turn-seconds 2] [--concurrency 16]

Builds (or reuses) the 1M-node demo with progress spread over it (bench/progress_state.py),
serves it with one uvicorn worker exactly as `congress serve` does, plus one route the
benchmark adds to the same app behind the same authentication (`/bench/floor`, a constant
JSON), and measures, as a province viewer and a commune viewer, requests taking turns:

- `GET /bench/floor`: authentication and HTTP, nothing of GraphQL;
- `{ __typename }` with a token;
- the node with `children(first: 100)`, each with `id name congress { status }`;
- the node, 20 children, 10 grandchildren each, the same fields;
- a dashboard page: the node's `progress`, its first 20 children with theirs.

Each server runs twice, with planned reads (the default) and with CONGRESS_PLANNED_READS=0
(every field through graphql-core), so the table shows what the planner changes. Printed:
requests per second, the ratios the issue sets goals for, p50/p99 latency, server CPU per
request and the worker's peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.progress_load import (
    BadAnswer,
    LoadResult,
    client_for,
    post_graphql,
    run_interleaved,
)
from bench.progress_load import (
    Request as LoadRequest,
)
from bench.progress_server import (
    Server,
    cpu_seconds,
    free_port,
    peak_memory_mib,
    stop_server,
    wait_until_ready,
)
from bench.progress_state import bench_database, prepare
from config import Settings
from graph.app import create_app_from_env, token_verifier
from graph.authentication import AuthenticationMiddleware
from models.database import create_session_factory
from permissions.tokens import LocalIssuer

FLOOR_PATH = "/bench/floor"
TOKEN_SECONDS = 3600
# (who, subject, committee code): a province viewer and a commune viewer of the demo.
USERS = (("province", "001090000004", "T01"), ("commune", "001090000007", "X00004"))

HUNDRED = """query Hundred($code: String!) { committee(code: $code) { id name congress { status }
  children(first: 100) { nodes { id name congress { status } } } } }"""
TWENTY_BY_TEN = """query TwentyByTen($code: String!) { committee(code: $code) { id name
  congress { status } children(first: 20) { nodes { id name congress { status }
    children(first: 10) { nodes { id name congress { status } } } } } } }"""
DASHBOARD = """query Dashboard($code: String!) { committee(code: $code) { name
  progress { total congressesHeld overdue dueSoon completionRate byMilestone { milestone done } }
  children(first: 20) { nodes { id name progress { total congressesHeld overdue } } } } }"""
TYPENAME = "{ __typename }"
QUERIES = {"typename": TYPENAME, "hundred": HUNDRED, "20x10": TWENTY_BY_TEN, "dashboard": DASHBOARD}
# The issue's goals: each request's rate over the reference's, in one run.
GOALS = (
    ("hundred", "typename", 0.6),
    ("20x10", "typename", 0.4),
    ("dashboard", "typename", 0.4),
    ("typename", "floor", 0.4),
)


def create_app_with_floor() -> Starlette:
    """The served app (`congress serve`'s factory) with the benchmark's constant route,
    behind the same token verifier and viewer lookup as /graphql."""
    app = create_app_from_env()
    settings: Settings = app.state.settings

    async def floor(_request: Request) -> JSONResponse:
        return JSONResponse({"data": {"floor": True}})

    authenticated = Middleware(
        AuthenticationMiddleware,
        verifier=token_verifier(settings),
        sessions=create_session_factory(app.state.engine),
        graphiql_page=None,
        browser_sessions=None,
    )
    app.router.routes.append(Route(FLOOR_PATH, floor, middleware=[authenticated]))
    return app


def start_bench_server(database_url: str, data_dir: Path, *, planned: bool) -> Server:
    """One uvicorn worker serving `create_app_with_floor`, as `congress serve` runs uvicorn."""
    port = free_port()
    # From the environment, so that a setting under study (CONGRESS_SQLITE_CACHE_KIB=...)
    # reaches the server; what the bench itself decides is set over it. Rate limits off:
    # 16 clients as one user would spend a viewer's quota in seconds (bench.abuse
    # measures the limits).
    settings = Settings.from_env().with_(
        data_dir=data_dir,
        database_url=database_url,
        planned_reads=planned,
        rate_limits=(),
        failed_auth_per_minute=0,
    )
    environment = {**os.environ, **settings.to_env()}
    log_path = data_dir / f"reads-{'planned' if planned else 'unplanned'}.log"
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "bench.reads:create_app_with_floor",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--proxy-headers",
        "--no-access-log",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
    return Server(process, f"http://127.0.0.1:{port}", log_path)


async def get_floor(client: httpx.AsyncClient, url: str, token: str) -> None:
    response = await client.get(url, headers={"Authorization": f"Bearer {token}"})
    if response.status_code != 200:
        raise BadAnswer(f"HTTP {response.status_code}: {response.text[:300]}")


async def ask(client: httpx.AsyncClient, url: str, token: str, query: str, code: str) -> None:
    variables = {"code": code} if "$code" in query else None
    await post_graphql(client, url, token, query, variables)


@dataclass(frozen=True, slots=True)
class Run:
    backend: str
    planned: bool
    user: str
    results: Mapping[str, LoadResult]
    peak_mib: float


async def measure(
    backend: str, planned: bool, arguments: argparse.Namespace
) -> tuple[list[Run], float]:
    database = bench_database(backend, arguments.cells_per_commune)
    server = start_bench_server(database.url, database.data_dir, planned=planned)
    runs: list[Run] = []
    try:
        await wait_until_ready(server)
        issuer = LocalIssuer.load_or_create(Settings(data_dir=database.data_dir).signing_key_path)
        async with client_for(arguments.concurrency) as client:
            for user, subject, code in USERS:
                token = issuer.issue(subject, TOKEN_SECONDS)
                requests: dict[str, LoadRequest] = {
                    "floor": partial(get_floor, url=f"{server.base_url}{FLOOR_PATH}", token=token)
                }
                for name, query in QUERIES.items():
                    requests[name] = partial(
                        ask, url=server.graphql_url, token=token, query=query, code=code
                    )
                for request in requests.values():
                    await request(client)  # warm: plans, caches, a failing request fails here
                results = await run_interleaved(
                    client,
                    requests,
                    concurrency=arguments.concurrency,
                    seconds=arguments.seconds,
                    turn_seconds=arguments.turn_seconds,
                    server_cpu=partial(cpu_seconds, server.process.pid),
                )
                runs.append(Run(backend, planned, user, results, 0.0))
        peak = peak_memory_mib(server.process.pid)
    finally:
        stop_server(server)
    return runs, peak


def p99_ms(result: LoadResult) -> float:
    if len(result.latencies) < 2:
        return result.median_ms
    return statistics.quantiles(result.latencies, n=100)[98] * 1000


def report(runs: list[Run], peaks: Mapping[tuple[str, bool], float]) -> None:
    for run in runs:
        mode = "planned" if run.planned else "graphql-core"
        print(
            f"\n## {run.backend}, {run.user} viewer, {mode} "
            f"(worker peak {peaks[run.backend, run.planned]:.0f} MiB)"
        )
        print(
            "| request | req/s | ratio to typename | p50 ms | p99 ms | server CPU ms/req | failed |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        typename = run.results["typename"].per_second
        for name, result in run.results.items():
            print(
                f"| {name} | {result.per_second:.0f} | {result.per_second / typename:.2f} | "
                f"{result.median_ms:.1f} | {p99_ms(result):.1f} | "
                f"{result.server_ms_per_request:.2f} | {result.failed} |"
            )
        if run.planned:
            for name, reference, goal in GOALS:
                ratio = run.results[name].per_second / run.results[reference].per_second
                verdict = "met" if ratio >= goal else "NOT met"
                print(f"- {name} / {reference} = {ratio:.2f} (goal >= {goal}): {verdict}")
    unplanned = {(run.backend, run.user): run for run in runs if not run.planned}
    print("\n## planned over graphql-core, same backend and user (req/s ratio)")
    for run in runs:
        other = unplanned.get((run.backend, run.user))
        if not run.planned or other is None:
            continue
        ratios = ", ".join(
            f"{name} {run.results[name].per_second / other.results[name].per_second:.1f}x"
            for name in QUERIES
            if name != "typename"
        )
        print(f"- {run.backend} {run.user}: {ratios}")


async def main_async(arguments: argparse.Namespace) -> None:
    runs: list[Run] = []
    peaks: dict[tuple[str, bool], float] = {}
    for backend in arguments.backends.split(","):
        database = bench_database(backend, arguments.cells_per_commune)
        preparation = await prepare(database)
        print(f"{backend}: {preparation.committees:,} committees", file=sys.stderr)
        for planned in (True, False):
            measured, peak = await measure(backend, planned, arguments)
            runs += measured
            peaks[backend, planned] = peak
    report(runs, peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--cells-per-commune", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=12.0, help="per request and user")
    parser.add_argument("--turn-seconds", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=16)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
