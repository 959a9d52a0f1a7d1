"""Progress at a million committees: summaries, nested pages and writes, on SQLite and PostgreSQL.

Run: .venv/bin/python -m bench.progress [--backend sqlite|postgresql|both]
         [--cells-per-commune 300] [--seconds 10] [--warmup 2] [--concurrency 8]
         [--write-concurrency 16] [--turn-seconds 1] [--rebuild]

Per backend: build the demo tree (300 cells per commune: 999,656 committees) and spread
progress over it (bench.progress_state), or reuse the database an earlier run left in
bench/.data; check the rollups once over the whole tree; start the real server
(`congress serve`, one uvicorn worker) and measure against it, each for `--seconds` after
`--warmup` seconds, with `--concurrency` keep-alive clients:

1. `{ __typename }`, the floor of a request's cost;
2. the progress summary at the centre (central admin) and at a cell (the cell's viewer);
   1 and 2, whose rates the goals compare, take turns of `--turn-seconds` each until each
   has had `--seconds`, so the machine's drift over the run falls on all three alike;
3. a three-level page of the tree, 20 x 10 x 10, with and without each node's progress;
4. `recordMilestone` on cells whose congress has not started, one cell per write (a run
   consumes them; later runs pick others), rollups maintained in each write's transaction,
   with `--concurrency` clients and again with `--write-concurrency` (writes sent together
   share a transaction, so the rate a worker sustains shows with more writers at once);
   beside it, what `SELECT 1` costs through the async session, and so what a write of
   that many statements (tests/test_statement_count.py) could reach at best;
5. the server's peak resident memory (VmHWM), after all of the above.

Then the rollups are checked again: the writes must have left no drift. Latencies are per
request at that concurrency (queueing included); "server ms/req" is the server process's
CPU time per answered request, its cost whatever the load generator's share of the
machine. The goals are the issue's.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from bench.progress_load import (
    BadAnswer,
    Exhausted,
    LoadResult,
    Request,
    client_for,
    post_graphql,
    run_interleaved,
    run_load,
)
from bench.progress_server import (
    Server,
    cpu_seconds,
    peak_memory_mib,
    start_server,
    stop_server,
    wait_until_ready,
)
from bench.progress_state import (
    BenchDatabase,
    Preparation,
    TimedCheck,
    bench_database,
    not_started_cells,
    prepare,
    reset_database,
    statement_floor_ms,
    timed_check,
)
from config import Settings
from graph.global_ids import GlobalId
from graph.resolvers.committees import COMMITTEE_TYPE
from models.demo import CENTRAL_CODE, demo_users
from models.users import Role
from permissions.tokens import LocalIssuer
from tests.databases import BACKENDS
from tests.test_statement_count import MILESTONE_WRITE_STATEMENTS

TOKEN_TTL_SECONDS = 24 * 3600
# Fresh congresses fetched for the write test: more than any backend writes in the time.
MAX_WRITES_PER_SECOND = 2_000
# Goals from the issue.
MAX_CENTRE_TO_CELL = 1.5
MIN_SUMMARY_TO_TYPENAME = 0.6
MIN_SQLITE_WRITES_PER_SECOND = 300.0
MAX_PEAK_MIB = 300.0

TYPENAME = "{ __typename }"
SUMMARY = """query($code: String!) { committee(code: $code) { progress {
  total congressesHeld completionRate overdue dueSoon
  byMilestone { milestone done inProgress notStarted }
  results { membersElected women under40 ethnicMinority secretaryDirectlyElected } } } }"""
NESTED = """query { committee(code: "TW") { children(first: 20) { nodes { code progress { total congressesHeld }
  children(first: 10) { nodes { code progress { total }
    children(first: 10) { nodes { code progress { total } } } } } } } } }"""
NESTED_PLAIN = """query { committee(code: "TW") { children(first: 20) { nodes { code
  children(first: 10) { nodes { code children(first: 10) { nodes { code } } } } } } } }"""
RECORD_MILESTONE = """mutation($input: RecordMilestoneInput!) { recordMilestone(input: $input) {
  __typename
  ... on CongressPayload { recordedVersion congress { id status version } }
  ... on CongressVersionConflict { currentVersion }
  ... on MutationError { message } } }"""
WRITTEN_MILESTONE = "plan_issued"
# Measured taking turns, since the goals compare their rates with each other.
COMPARED = ("typename", "summary_centre", "summary_cell")


@dataclass(frozen=True, slots=True)
class Viewers:
    """Bearer tokens of the demo users the requests run as."""

    central_admin: str
    central_reporter: str
    cell_viewer: str
    cell_code: str


def viewers(database: BenchDatabase) -> Viewers:
    settings = Settings(data_dir=database.data_dir)
    issuer = LocalIssuer.load_or_create(settings.signing_key_path)
    users = demo_users(database.cells_per_commune)

    def token(role: Role, at_centre: bool) -> tuple[str, str]:
        user = next(
            u
            for u in users
            if u.role is role
            and (u.committee_code == CENTRAL_CODE) == at_centre
            and (at_centre or "-" in u.committee_code)  # a cell's code: commune-number
        )
        return issuer.issue(user.subject, TOKEN_TTL_SECONDS), user.committee_code

    cell_token, cell_code = token(Role.VIEWER, at_centre=False)
    return Viewers(
        central_admin=token(Role.ADMIN, at_centre=True)[0],
        central_reporter=token(Role.REPORTER, at_centre=True)[0],
        cell_viewer=cell_token,
        cell_code=cell_code,
    )


def query_request(
    url: str,
    token: str,
    query: str,
    check: Callable[[dict[str, Any]], bool],
    variables: dict[str, Any] | None = None,
) -> Request:
    async def send(client: httpx.AsyncClient) -> None:
        data = await post_graphql(client, url, token, query, variables)
        if not check(data):
            raise BadAnswer(str(data)[:300])

    return send


@dataclass(slots=True)
class WriteTally:
    """Writes answered with a CongressPayload, warm-up included: what the centre must show."""

    succeeded: int = 0


def write_request(url: str, token: str, committee_ids: Iterator[int], tally: WriteTally) -> Request:
    """Each call starts the first milestone of the next fresh cell's congress."""

    async def send(client: httpx.AsyncClient) -> None:
        committee_id = next(committee_ids, None)
        if committee_id is None:
            raise Exhausted
        variables = {
            "input": {
                "committeeId": str(GlobalId(COMMITTEE_TYPE, committee_id)),
                "milestone": WRITTEN_MILESTONE,
                "status": "IN_PROGRESS",
                "occurredOn": "2025-03-01",
            }
        }
        data = await post_graphql(client, url, token, RECORD_MILESTONE, variables)
        if data["recordMilestone"]["__typename"] != "CongressPayload":
            raise BadAnswer(str(data["recordMilestone"])[:300])
        tally.succeeded += 1

    return send


@dataclass(frozen=True, slots=True)
class LoadOptions:
    seconds: float
    warmup: float
    concurrency: int
    write_concurrency: int
    turn_seconds: float


@dataclass(slots=True)
class Figures:
    """Everything measured on one backend."""

    backend: str
    preparation: Preparation
    check_before: TimedCheck
    loads: dict[str, LoadResult]
    written_at_centre: int  # plan_issued in progress at the centre: after - before
    writes_succeeded: int  # successful writes, warm-up included
    peak_mib: float
    check_after: TimedCheck
    floor_ms: float  # one trivial statement through the async session

    @property
    def write_ceiling(self) -> float:
        """Writes/s if a write cost nothing but its statements' floor."""
        return 1000 / (MILESTONE_WRITE_STATEMENTS * self.floor_ms)


async def centre_summary(client: httpx.AsyncClient, server: Server, token: str) -> dict[str, Any]:
    data = await post_graphql(client, server.graphql_url, token, SUMMARY, {"code": CENTRAL_CODE})
    progress: dict[str, Any] = data["committee"]["progress"]
    return progress


def milestone_in_progress(summary: dict[str, Any], milestone: str) -> int:
    return int(next(m["inProgress"] for m in summary["byMilestone"] if m["milestone"] == milestone))


async def measure_server(
    server: Server, who: Viewers, targets: list[int], committees: int, options: LoadOptions
) -> tuple[dict[str, LoadResult], int, int]:
    """(loads by name, plan_issued in progress at the centre after - before, writes that
    succeeded, warm-up included)."""
    url = server.graphql_url
    pid = server.process.pid

    def is_summary_of(total: int) -> Callable[[dict[str, Any]], bool]:
        return lambda data: (
            bool(data["committee"]) and data["committee"]["progress"]["total"] == total
        )

    def has_twenty_children(data: dict[str, Any]) -> bool:
        return len(data["committee"]["children"]["nodes"]) == 20

    reads: dict[str, Request] = {
        "typename": query_request(url, who.central_admin, TYPENAME, lambda d: d == {"__typename": "Query"}),
        "summary_centre": query_request(url, who.central_admin, SUMMARY, is_summary_of(committees), {"code": CENTRAL_CODE}),
        "summary_cell": query_request(url, who.cell_viewer, SUMMARY, is_summary_of(1), {"code": who.cell_code}),
        "nested": query_request(url, who.central_admin, NESTED, has_twenty_children),
        "nested_plain": query_request(url, who.central_admin, NESTED_PLAIN, has_twenty_children),
    }  # fmt: skip
    loads: dict[str, LoadResult] = {}
    async with client_for(max(options.concurrency, options.write_concurrency)) as client:

        def cpu() -> float:
            return cpu_seconds(pid)

        async def warm_up(request: Request, concurrency: int) -> None:
            if options.warmup > 0:
                await run_load(client, request, concurrency=concurrency,
                               seconds=options.warmup, server_cpu=cpu)  # fmt: skip

        async def load(request: Request, concurrency: int = options.concurrency) -> LoadResult:
            await warm_up(request, concurrency)
            return await run_load(client, request, concurrency=concurrency,
                                  seconds=options.seconds, server_cpu=cpu)  # fmt: skip

        # The requests the goals compare with each other take turns (bench.progress_load).
        compared = {name: reads.pop(name) for name in COMPARED}
        for warming in compared.values():
            await warm_up(warming, options.concurrency)
        taking_turns = await run_interleaved(
            client,
            compared,
            concurrency=options.concurrency,
            seconds=options.seconds,
            turn_seconds=options.turn_seconds,
            server_cpu=cpu,
        )
        loads.update(taking_turns)
        for name in compared:
            print(f"  {name:<15} {describe(loads[name])}, {peak_so_far(pid)}", flush=True)
        for name, request in reads.items():
            loads[name] = await load(request)
            print(f"  {name:<15} {describe(loads[name])}, {peak_so_far(pid)}", flush=True)
        before = milestone_in_progress(
            await centre_summary(client, server, who.central_admin), WRITTEN_MILESTONE
        )
        tally = WriteTally()
        fresh_cells = iter(targets)
        for name, concurrency in (
            ("writes", options.concurrency),
            ("writes_many", options.write_concurrency),
        ):
            request = write_request(url, who.central_reporter, fresh_cells, tally)
            loads[name] = await load(request, concurrency)
            print(f"  {name:<15} {describe(loads[name])}, {peak_so_far(pid)}", flush=True)
        after = milestone_in_progress(
            await centre_summary(client, server, who.central_admin), WRITTEN_MILESTONE
        )
    return loads, after - before, tally.succeeded


def peak_so_far(pid: int) -> str:
    """The server's peak memory after each measurement shows which one raised it."""
    return f"server peak {peak_memory_mib(pid):.0f} MiB"


def describe(result: LoadResult) -> str:
    failed = f", {result.failed} FAILED ({result.first_failure})" if result.failed else ""
    return (
        f"{result.per_second:,.0f}/s, median {result.median_ms:.1f} ms, p95 {result.p95_ms:.1f} ms, "
        f"server {result.server_ms_per_request:.2f} ms/req ({result.completed:,} requests){failed}"
    )


def describe_check(check: TimedCheck) -> str:
    return f"{check.seconds:.1f} s, {check.report.counters_wrong} counters drifted"


async def run_backend(backend: str, cells: int, rebuild: bool, options: LoadOptions) -> Figures:
    database = bench_database(backend, cells)
    print(f"{backend}: {database.url}", flush=True)
    if rebuild:
        await reset_database(database)
    preparation = await prepare(database)
    print(f"  committees      {preparation.committees:,}", flush=True)
    for what, seconds in (
        ("build", preparation.build_seconds),
        ("spread", preparation.spread_seconds),
    ):
        print(f"  {what:<15} " + ("reused" if seconds is None else f"{seconds:.1f} s"), flush=True)  # fmt: skip
    check_before = await timed_check(database)
    print(f"  check-rollups   {describe_check(check_before)}", flush=True)
    floor_ms = await statement_floor_ms(database)
    print(f"  SELECT 1        {floor_ms:.3f} ms through the async session", flush=True)
    # Two runs of writes.
    writes_wanted = 2 * math.ceil((options.seconds + options.warmup) * MAX_WRITES_PER_SECOND)
    targets = await not_started_cells(database, writes_wanted)
    who = viewers(database)
    server = start_server(database.url, database.data_dir)
    try:
        await wait_until_ready(server)
        print(f"  started         {peak_so_far(server.process.pid)}", flush=True)
        loads, written, sent = await measure_server(
            server, who, targets, preparation.committees, options
        )
        peak_mib = peak_memory_mib(server.process.pid)
        print(f"  peak memory     {peak_mib:.0f} MiB", flush=True)
        # Client, server (and PostgreSQL) share the machine: say how busy it was.
        print(
            f"  load average    {os.getloadavg()[0]:.2f} (1 min, {os.cpu_count()} CPUs)", flush=True
        )
    finally:
        stop_server(server)
    check_after = await timed_check(database)
    print(f"  check-rollups   {describe_check(check_after)} (after the writes)", flush=True)
    return Figures(
        backend, preparation, check_before, loads, written, sent, peak_mib, check_after, floor_ms
    )


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


def table(figures: list[Figures]) -> list[list[str]]:
    rows: list[list[str]] = [["", "goal", *(f.backend for f in figures)]]

    def row(label: str, goal: str, cell: Callable[[Figures], str]) -> None:
        rows.append([label, goal, *(cell(f) for f in figures)])

    def rate(name: str) -> Callable[[Figures], str]:
        return lambda f: f"{f.loads[name].per_second:,.0f}/s"

    def latency(name: str) -> Callable[[Figures], str]:
        return lambda f: f"{f.loads[name].median_ms:.1f} / {f.loads[name].p95_ms:.1f}"

    def cost(name: str) -> Callable[[Figures], str]:
        return lambda f: f"{f.loads[name].server_ms_per_request:.2f}"

    row("committees", "", lambda f: f"{f.preparation.committees:,}")
    row("check-rollups, whole tree (s)", "", lambda f: f"{f.check_before.seconds:.1f}")
    for name, label in (
        ("typename", "{ __typename }"),
        ("summary_centre", "summary at the centre"),
        ("summary_cell", "summary at a cell"),
        ("nested", "nested 20x10x10 with progress"),
        ("nested_plain", "nested 20x10x10, no progress"),
        ("writes", "recordMilestone"),
        ("writes_many", "recordMilestone, more writers"),
    ):
        row(f"{label}: req/s", "", rate(name))
        row("  median / p95 ms", "", latency(name))
        row("  server CPU ms/req", "", cost(name))

    def centre_to_cell(f: Figures) -> float:
        return f.loads["summary_centre"].median_ms / f.loads["summary_cell"].median_ms

    def summary_to_typename(f: Figures) -> float:
        return f.loads["summary_centre"].per_second / f.loads["typename"].per_second

    def writes_ok(f: Figures) -> str:
        per_second = f.loads["writes_many"].per_second
        if f.backend != "sqlite":
            return f"{per_second:,.0f}/s"
        return f"{per_second:,.0f}/s {verdict(per_second >= MIN_SQLITE_WRITES_PER_SECOND)}"

    row("centre / cell median latency", f"<= {MAX_CENTRE_TO_CELL}",
        lambda f: f"{centre_to_cell(f):.2f} {verdict(centre_to_cell(f) <= MAX_CENTRE_TO_CELL)}")  # fmt: skip
    row("summary / typename req/s", f">= {MIN_SUMMARY_TO_TYPENAME}",
        lambda f: f"{summary_to_typename(f):.2f} {verdict(summary_to_typename(f) >= MIN_SUMMARY_TO_TYPENAME)}")  # fmt: skip
    row("writes/s, one worker, more writers", f">= {MIN_SQLITE_WRITES_PER_SECOND:.0f} (SQLite)",
        writes_ok)  # fmt: skip
    row("SELECT 1 through the session (ms)", "", lambda f: f"{f.floor_ms:.3f}")
    row(f"  writes/s at {MILESTONE_WRITE_STATEMENTS} such statements", "",
        lambda f: f"{f.write_ceiling:,.0f}/s")  # fmt: skip
    row("writes seen at the centre", "= succeeded",
        lambda f: f"{f.written_at_centre:,} of {f.writes_succeeded:,} {verdict(f.written_at_centre == f.writes_succeeded)}")  # fmt: skip
    row("drift after the writes", "0",
        lambda f: f"{f.check_after.report.counters_wrong} {verdict(f.check_after.report.counters_wrong == 0)}")  # fmt: skip
    row("server peak memory (MiB)", f"< {MAX_PEAK_MIB:.0f}",
        lambda f: f"{f.peak_mib:.0f} {verdict(f.peak_mib < MAX_PEAK_MIB)}")  # fmt: skip
    row("failed requests", "0", lambda f: str(sum(load.failed for load in f.loads.values())))
    return rows


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells.extend(cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))
        print("  ".join(cells).rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--cells-per-commune", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before each one")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--write-concurrency", type=int, default=16, help="for the second run of writes"
    )
    parser.add_argument(
        "--turn-seconds",
        type=float,
        default=1.0,
        help="length of each turn of the requests whose rates are compared",
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the databases")
    arguments = parser.parse_args()
    backends = BACKENDS if arguments.backend == "both" else (arguments.backend,)
    options = LoadOptions(
        arguments.seconds,
        arguments.warmup,
        arguments.concurrency,
        arguments.write_concurrency,
        arguments.turn_seconds,
    )
    figures = [
        asyncio.run(run_backend(backend, arguments.cells_per_commune, arguments.rebuild, options))
        for backend in backends
    ]
    print(
        f"\nconcurrency {options.concurrency} (more writers: {options.write_concurrency}), "
        f"{options.seconds:g} s per measurement after {options.warmup:g} s of warm-up; "
        "latencies at that concurrency"
    )
    print_table(table(figures))


if __name__ == "__main__":
    main()
