"""Live updates at scale: thousands of websocket subscribers on two workers, writes at a
steady rate, every delivery checked (DESIGN.md, "How a request flows", 6: Live).

Run: .venv/bin/python -m bench.live [--backend sqlite|postgresql|both] [--subscribers 5000]
         [--rate 50] [--seconds 60] [--cells-per-commune 300] [--client-processes 2]
         [--summary-changes 10] [--writes-in-flight 16] [--seed 2025] [--small] [--rebuild]

`--small` is a smoke test: 300 subscribers, 10 s of writes, the demo with 5 cells a commune
(each option given explicitly wins).

Per backend:

1. The database of bench.progress (bench.progress_state: the demo tree with progress
   spread over it, built once into bench/.data and reused). Subscribers are placed as
   officials are spread (DESIGN.md): 0.1 % at the centre, 6.8 % over the provinces (10 a
   province at 5,000), 66.4 % over the communes (one a commune at 5,000), the rest at
   random cells. Each is a user of its own, a viewer at its node (subject
   `bench-live-<committee id>-<n>`, added once with models.accounts.add_user and reused by
   later runs), signed in with a token of the local issuer. Every tenth subscriber at a
   province or a commune subscribes to `progress(committeeId:)` (its node's live summary);
   all others to `progressEvents` (every change in their scope).
2. Two `congress serve` processes (one uvicorn worker each) on the same database: two
   workers, A and B. The writer talks to A only; subscribers alternate between B and A, so
   half of them hear of each write from the other worker (through NOTIFY on PostgreSQL,
   PRAGMA data_version on SQLite). Rate limits are off (CONGRESS_RATE_LIMITS=off): one
   reporter at the centre writes everything.
3. The subscribers connect from `--client-processes` processes (5,000 websockets in one
   Python process would make the client the bottleneck on two cores), each connection
   signs in with `connection_init` and subscribes; the servers' resident memory before and
   after, idle, gives the memory per 1,000 idle subscribers. "Before" is after each
   subscriber's user has signed in once over HTTP (`sign_in_once`), so that what sign-ins
   alone fill (SQLite's page cache) is not counted as the subscribers'; both figures show.
4. For `--seconds`, `recordMilestone` (plan_issued, IN_PROGRESS) at `--rate` a second on
   a random cell whose congress has not started (a fresh one each time: a run consumes
   them, later runs pick others), sent open-loop (one every 1/rate s, whatever the
   answers). Every message each subscriber receives is kept with its receipt time.
5. Checked: for each confirmed write at cell path P, exactly the `progressEvents`
   subscribers whose node's path is a prefix of P must get it, once: lost, duplicated and
   out-of-scope deliveries are counted. For each `progress` subscriber, its last summary's
   `inProgress` minus its first must equal the writes confirmed in its subtree, and no
   summary may come for a subtree without writes.
6. Live summaries' database reads (`congress_live_summary_reads_total` of both servers)
   during the writes, then on their own: 1, then 100 subscribers to one province's
   `progress` on B while `--summary-changes` writes below it are sent through A, one per
   live interval, so every change gets its own read.

Latency: an event's `recordedAt` is set as the write's transaction publishes it, just before
its commit; receipt minus `recordedAt` (one machine, one clock) is an upper bound of
commit-to-delivery. Receipt minus the moment the writer had its HTTP answer (after the
commit) is a lower bound; both are shown. "Server CPU" is /proc's user + system time of
both server processes over the writes and until the last message; B serves no writes, so
its CPU per message it sent is the delivery cost alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import random
import resource
import shlex
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any, Final

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from bench.progress import RECORD_MILESTONE, WRITTEN_MILESTONE
from bench.progress_server import (
    Server,
    cpu_seconds,
    resident_memory_mib,
    server_processes,
    start_server,
    stop_server,
    wait_until_ready,
)
from bench.progress_state import (
    BenchDatabase,
    bench_database,
    current_term_id,
    not_started_cells_of,
    prepare,
    reset_database,
)
from config import Settings
from graph.global_ids import GlobalId
from graph.resolvers.committees import COMMITTEE_TYPE
from models.accounts import add_user
from models.database import create_engine
from models.demo import CENTRAL_CODE, DEMO_PROVINCE_CODE, demo_size
from models.tree import Committee, CommitteeKind
from models.users import Role, User
from permissions.tokens import LocalIssuer
from tests.databases import BACKENDS

TOKEN_TTL_SECONDS = 24 * 3600
SUBJECT_PREFIX = "bench-live-"
WRITER_SUBJECT = "bench-live-writer"
# How subscribers are spread over the levels (DESIGN.md); the rest go to cells.
CENTRE_SHARE = 0.001
PROVINCE_SHARE = 0.068
COMMUNE_SHARE = 0.664
# Every this-many-th subscriber at a province or a commune watches its node's summary.
SUMMARY_EVERY = 10
EVENTS = "progressEvents"
SUMMARY = "progress"
SERVER_A = "A"  # takes the writes
SERVER_B = "B"  # the other worker
# The servers run without rate limits: one reporter writes at 50/s.
SERVER_ENVIRONMENT: Final = {
    "CONGRESS_RATE_LIMITS": "off",
    "CONGRESS_FAILED_AUTH_PER_MINUTE": "0",
}
SUMMARY_PHASE_SUBSCRIBERS = (1, 100)
SUMMARY_PHASE_PROVINCE = DEMO_PROVINCE_CODE
# Each connection's handshake, sign-in and subscription may take this long under load.
OPEN_TIMEOUT_SECONDS = 120.0
# Idle subscribers settle this long before their servers' memory is read.
IDLE_SECONDS = 5.0
# After the writes: the servers' message counters must stay still this long...
DRAIN_QUIET_SECONDS = 2.0
DRAIN_MAX_SECONDS = 60.0
# ... and each client process this long with nothing received before it stops.
CLIENT_QUIET_SECONDS = 1.0
CLIENT_QUIET_MAX_SECONDS = 30.0
WRITE_ATTEMPTS = 3
HTTP_TIMEOUT_SECONDS = 60.0
# Users signing in at once before the subscribers connect (sign_in_once).
SIGN_IN_CONCURRENCY = 20
# The close code of a subscriber the server found too far behind: resume after the cursor.
FELL_BEHIND_CLOSE = 4499
SERVER_LOG_MARKERS = ("Traceback", "ERROR", "WARNING", "Exception")

PROGRESS_EVENTS_DOCUMENT = """subscription($after: String) { progressEvents(after: $after) {
  cursor kind recordedAt committee { id code } congress { version status milestone } } }"""
PROGRESS_DOCUMENT = """subscription($committeeId: ID!) { progress(committeeId: $committeeId) {
  term total inProgress congressesHeld overdue } }"""


# --- the database: nodes, users, write targets -------------------------------------------


@dataclass(frozen=True, slots=True)
class Node:
    id: int
    code: str
    path: str
    level: str  # centre, province, commune, cell

    @property
    def global_id(self) -> str:
        return str(GlobalId(COMMITTEE_TYPE, self.id))


@dataclass(frozen=True, slots=True)
class Placement:
    """A subscriber before it has a token: where, which field, which server."""

    index: int
    subject: str
    node: Node
    field: str
    server: str


LEVEL_OF_KIND = {
    CommitteeKind.CENTRAL: "centre",
    CommitteeKind.PROVINCE: "province",
    CommitteeKind.COMMUNE: "commune",
}
LEVELS = ("centre", "province", "commune", "cell")


@dataclass(slots=True)
class Tree:
    """The nodes subscribers and writes are placed on."""

    by_level: dict[str, list[Node]]
    cells: list[int]  # every open cell's id; their codes and paths are read when chosen

    def node(self, code: str) -> Node:
        return next(n for nodes in self.by_level.values() for n in nodes if n.code == code)


async def read_tree(database: BenchDatabase) -> Tree:
    engine = create_engine(database.url)
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(Committee.id, Committee.code, Committee.path, Committee.kind)
                    .where(Committee.kind.in_(list(LEVEL_OF_KIND)), Committee.closed_at.is_(None))
                    .order_by(Committee.id)
                )
            ).all()
            cells = list(
                await connection.scalars(
                    select(Committee.id)
                    .where(Committee.kind == CommitteeKind.CELL, Committee.closed_at.is_(None))
                    .order_by(Committee.id)
                )
            )
    finally:
        await engine.dispose()
    by_level: dict[str, list[Node]] = {level: [] for level in LEVELS}
    for committee_id, code, path, kind in rows:
        level = LEVEL_OF_KIND[kind]
        by_level[level].append(Node(committee_id, code, path, level))
    return Tree(by_level, cells)


async def nodes_by_id(database: BenchDatabase, ids: Sequence[int], level: str) -> list[Node]:
    """The nodes of `ids`, in that order."""
    engine = create_engine(database.url)
    found: dict[int, Node] = {}
    try:
        async with engine.connect() as connection:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                for committee_id, code, path in await connection.execute(
                    select(Committee.id, Committee.code, Committee.path).where(
                        Committee.id.in_(chunk)
                    )
                ):
                    found[committee_id] = Node(committee_id, code, path, level)
    finally:
        await engine.dispose()
    return [found[committee_id] for committee_id in ids]


def place_subscribers(tree: Tree, count: int, rng: random.Random) -> list[Node]:
    """The centre's, provinces' and communes' share of `count` subscribers, one node each,
    spread as officials are (module docstring); the rest go to cells, chosen by the caller."""
    centre = max(1, round(count * CENTRE_SHARE))
    provinces = round(count * PROVINCE_SHARE)
    communes = round(count * COMMUNE_SHARE)
    if centre + provinces + communes > count:
        raise ValueError(f"{count} subscribers are too few to spread over the levels")
    nodes: list[Node] = [tree.by_level["centre"][0]] * centre
    for level, wanted in (("province", provinces), ("commune", communes)):
        shuffled = list(tree.by_level[level])
        rng.shuffle(shuffled)
        nodes.extend(shuffled[i % len(shuffled)] for i in range(wanted))
    return nodes


def placements(levels: Sequence[Node], cells: Sequence[Node]) -> list[Placement]:
    """Subjects, fields and servers: every SUMMARY_EVERY-th subscriber of a province or
    commune on the summary, the others on the events; each field's subscribers of each
    level alternate between the servers (B first)."""
    per_node: Counter[int] = Counter()
    per_level: Counter[str] = Counter()
    per_field: Counter[tuple[str, str]] = Counter()
    placed: list[Placement] = []
    for index, node in enumerate([*levels, *cells]):
        number = per_node[node.id]
        per_node[node.id] += 1
        position = per_level[node.level]
        per_level[node.level] += 1
        summary = node.level in ("province", "commune") and position % SUMMARY_EVERY == 0
        kind = (node.level, SUMMARY if summary else EVENTS)
        server = SERVER_B if per_field[kind] % 2 == 0 else SERVER_A
        per_field[kind] += 1
        placed.append(
            Placement(
                index=index,
                subject=f"{SUBJECT_PREFIX}{node.id}-{number}",
                node=node,
                field=kind[1],
                server=server,
            )
        )
    return placed


async def ensure_users(
    database: BenchDatabase, wanted: Mapping[str, tuple[int, Role]]
) -> tuple[int, float]:
    """Add the users of `wanted` (subject -> (committee id, role)) that are not there yet,
    in one transaction; (users added, seconds)."""
    started = time.perf_counter()
    engine = create_engine(database.url)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            present = set(
                await session.scalars(
                    select(User.subject).where(User.subject.startswith(SUBJECT_PREFIX))
                )
            )
            missing = [subject for subject in wanted if subject not in present]
            for subject in missing:
                committee_id, role = wanted[subject]
                await add_user(session, subject, f"Bench live {subject}", [(committee_id, role)])
    finally:
        await engine.dispose()
    return len(missing), time.perf_counter() - started


async def not_started_cells(
    database: BenchDatabase, under: str | None, excluded: set[int], count: int, seed: int
) -> list[Node]:
    """`count` cells whose congress has not started (under the path `under` if given), in
    a seeded random order, none of `excluded`."""
    engine = create_engine(database.url)
    try:
        async with engine.connect() as connection:
            term_id = await current_term_id(connection)
            statement = not_started_cells_of(term_id)
            if under is not None:
                statement = statement.where(Committee.path.startswith(under))
            rows = (await connection.execute(statement)).all()
    finally:
        await engine.dispose()
    cells = [Node(i, code, path, "cell") for i, code, path in rows if i not in excluded]
    random.Random(seed).shuffle(cells)
    if len(cells) < count:
        raise RuntimeError(
            f"only {len(cells):,} cells have not started their congress (wanted {count:,}): "
            "rebuild the database (python -m bench.progress --rebuild, or delete bench/.data)"
        )
    return cells[:count]


# --- the subscribers' side: one process per share of the sockets -------------------------


@dataclass(frozen=True, slots=True)
class SubscriberSpec:
    """What a client process needs to open one subscription (picklable)."""

    index: int
    url: str
    token: str
    field: str
    committee_gid: str


@dataclass(slots=True)
class ClientReport:
    """What one client process saw. Times are time.time() (the servers' clock too)."""

    # (subscriber, committee code, congress version, recordedAt, received at)
    events: list[tuple[int, str, int, str, float]] = field(default_factory=list)
    # (subscriber, inProgress, received at); the first summary of each is in `initial`
    summaries: list[tuple[int, int, float]] = field(default_factory=list)
    initial: dict[int, int] = field(default_factory=dict)
    errors: list[tuple[int, str]] = field(default_factory=list)
    connect_failures: list[tuple[int, str]] = field(default_factory=list)
    # progressEvents subscribers closed as too far behind (4499) that resumed after their
    # last cursor, as the close reason tells them to: (subscriber, when)
    resumed: list[tuple[int, float]] = field(default_factory=list)
    connect_seconds: float = 0.0


def subscribe_message(spec: SubscriberSpec, after: str | None = None) -> str:
    if spec.field == EVENTS:
        payload: dict[str, Any] = {
            "query": PROGRESS_EVENTS_DOCUMENT,
            "variables": {} if after is None else {"after": after},
        }
    else:
        payload = {"query": PROGRESS_DOCUMENT, "variables": {"committeeId": spec.committee_gid}}
    return json.dumps({"id": "1", "type": "subscribe", "payload": payload})


async def open_subscription(
    spec: SubscriberSpec, after: str | None = None
) -> tuple[ClientConnection, int | None]:
    """A signed-in socket with the subscription started; for a summary, its first value
    (`inProgress`), which the server sends at once."""
    socket = await connect(
        spec.url,
        subprotocols=[Subprotocol("graphql-transport-ws")],
        compression=None,
        ping_interval=None,  # the server pings (uvicorn), the client answers
        open_timeout=OPEN_TIMEOUT_SECONDS,
        max_size=2**20,
    )
    try:
        async with asyncio.timeout(OPEN_TIMEOUT_SECONDS):
            await socket.send(
                json.dumps(
                    {
                        "type": "connection_init",
                        "payload": {"Authorization": f"Bearer {spec.token}"},
                    }
                )
            )
            ack = json.loads(await socket.recv())
            if ack.get("type") != "connection_ack":
                raise RuntimeError(f"no connection_ack: {str(ack)[:200]}")
            await socket.send(subscribe_message(spec, after))
            if spec.field != SUMMARY:
                return socket, None
            first = json.loads(await socket.recv())
            if first.get("type") != "next" or first["payload"].get("errors"):
                raise RuntimeError(f"no first summary: {str(first)[:200]}")
            return socket, int(first["payload"]["data"]["progress"]["inProgress"])
    except BaseException:
        await socket.close()
        raise


class ClientSide:
    """The sockets of one client process and what they receive."""

    def __init__(self, specs: Sequence[SubscriberSpec], connect_concurrency: int) -> None:
        self.specs = specs
        self.report = ClientReport()
        self.sockets: dict[int, ClientConnection] = {}
        self.last_received = time.time()
        self.stopping = False
        self._gate = asyncio.Semaphore(connect_concurrency)
        self._readers: list[asyncio.Task[None]] = []

    async def open_all(self) -> None:
        started = time.perf_counter()

        async def open_one(spec: SubscriberSpec) -> None:
            async with self._gate:
                try:
                    socket, first = await open_subscription(spec)
                except Exception as error:
                    self.report.connect_failures.append((spec.index, repr(error)[:300]))
                    return
            self.sockets[spec.index] = socket
            if first is not None:
                self.report.initial[spec.index] = first
            self._readers.append(asyncio.create_task(self._read(spec, socket)))

        await asyncio.gather(*(open_one(spec) for spec in self.specs))
        self.report.connect_seconds = time.perf_counter() - started

    async def _read(self, spec: SubscriberSpec, socket: ClientConnection) -> None:
        """Receive until stopped; a progressEvents subscriber closed as too far behind
        resumes after its last cursor, as a client would."""
        report = self.report
        cursor: str | None = None
        while True:
            try:
                async for raw in socket:
                    received_at = time.time()
                    self.last_received = received_at
                    message = json.loads(raw)
                    kind = message.get("type")
                    if kind == "ping":
                        await socket.send(json.dumps({"type": "pong"}))
                        continue
                    payload = message.get("payload") or {}
                    if kind != "next" or payload.get("errors"):
                        report.errors.append((spec.index, str(raw)[:300]))
                        continue
                    data = payload["data"]
                    if spec.field == EVENTS:
                        event = data["progressEvents"]
                        cursor = str(event["cursor"])
                        congress = event.get("congress") or {}
                        report.events.append(
                            (
                                spec.index,
                                str(event["committee"]["code"]),
                                int(congress.get("version", -1)),
                                str(event["recordedAt"]),
                                received_at,
                            )
                        )
                    else:
                        report.summaries.append(
                            (spec.index, int(data["progress"]["inProgress"]), received_at)
                        )
                return
            except ConnectionClosed as closed:
                if self.stopping:
                    return
                report.errors.append((spec.index, f"closed: {closed!r}"[:300]))
                resumable = closed.rcvd is not None and closed.rcvd.code == FELL_BEHIND_CLOSE
                if not resumable or spec.field != EVENTS or cursor is None:
                    return
            report.resumed.append((spec.index, time.time()))
            try:
                socket, _ = await open_subscription(spec, cursor)
            except Exception as error:
                report.errors.append((spec.index, f"resuming: {error!r}"[:300]))
                return
            self.sockets[spec.index] = socket

    async def wait_quiet(self) -> None:
        """Until nothing has come for CLIENT_QUIET_SECONDS (at most CLIENT_QUIET_MAX_SECONDS)."""
        deadline = time.monotonic() + CLIENT_QUIET_MAX_SECONDS
        while True:
            quiet = time.time() - self.last_received >= CLIENT_QUIET_SECONDS
            if quiet or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.1)

    async def close_all(self) -> None:
        self.stopping = True
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)

        async def close_one(socket: ClientConnection) -> None:
            async with self._gate:
                with suppress(Exception):
                    await asyncio.wait_for(socket.close(), 10)

        await asyncio.gather(*(close_one(socket) for socket in self.sockets.values()))


def run_client_process(
    specs: list[SubscriberSpec], pipe: Connection, connect_concurrency: int
) -> None:
    """A client process: open every subscription, say so, receive until told to stop, then
    send everything received back through `pipe`."""
    raise_open_files_limit()
    asyncio.run(_client_process(specs, pipe, connect_concurrency))


async def _client_process(
    specs: list[SubscriberSpec], pipe: Connection, connect_concurrency: int
) -> None:
    side = ClientSide(specs, connect_concurrency)
    await side.open_all()
    pipe.send(("ready", side.report.connect_failures, side.report.connect_seconds))
    await asyncio.to_thread(pipe.recv)  # "stop"
    await side.wait_quiet()
    await side.close_all()
    pipe.send(side.report)


@dataclass(slots=True)
class ClientProcess:
    process: multiprocessing.process.BaseProcess
    pipe: Connection

    async def ready(self) -> tuple[list[tuple[int, str]], float]:
        """(subscriptions that failed to open: index and error, seconds to open them all)."""
        message = await asyncio.to_thread(self.pipe.recv)
        if not (isinstance(message, tuple) and message[0] == "ready"):
            raise RuntimeError(f"client process: {message!r}")
        failures: list[tuple[int, str]] = message[1]
        return failures, float(message[2])

    async def stop(self) -> ClientReport:
        self.pipe.send("stop")
        report = await asyncio.to_thread(self.pipe.recv)
        if not isinstance(report, ClientReport):
            raise RuntimeError(f"client process: {report!r}")
        await asyncio.to_thread(self.process.join, 30)
        return report


def client_cpu_seconds(client: ClientProcess) -> float:
    pid = client.process.pid
    assert pid is not None, "a started process has a pid"
    return cpu_seconds(pid)


def start_clients(
    specs: Sequence[SubscriberSpec], processes: int, connect_concurrency: int
) -> list[ClientProcess]:
    context = multiprocessing.get_context("spawn")
    started: list[ClientProcess] = []
    for share in range(processes):
        mine = list(specs[share::processes])
        parent_end, child_end = context.Pipe()
        process = context.Process(
            target=run_client_process,
            args=(mine, child_end, connect_concurrency),
            name=f"bench-live-clients-{share}",
            daemon=True,
        )
        process.start()
        started.append(ClientProcess(process, parent_end))
    return started


def raise_open_files_limit() -> int:
    """As many sockets as the hard limit allows (the servers and clients inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# --- the servers: metrics, memory, CPU ---------------------------------------------------


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text: 'name{labels}' -> value."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        values[series] = float(value)
    return values


async def scrape(client: httpx.AsyncClient, server: Server) -> dict[str, float]:
    response = await client.get(f"{server.base_url}/metrics")
    response.raise_for_status()
    return parse_metrics(response.text)


def metric(values: Mapping[str, float], name: str, **labels: str) -> float:
    """A series' value (0 if absent: a counter not incremented yet)."""
    if labels:
        name += "{" + ",".join(f'{key}="{value}"' for key, value in labels.items()) + "}"
    return values.get(name, 0.0)


def messages_sent(values: Mapping[str, float]) -> float:
    return metric(values, "congress_live_messages_total", field=EVENTS) + metric(
        values, "congress_live_messages_total", field=SUMMARY
    )


def open_subscriptions(values: Mapping[str, float]) -> float:
    return sum(
        metric(values, "congress_live_subscriptions_total", field=name, event="started")
        - metric(values, "congress_live_subscriptions_total", field=name, event="ended")
        for name in (EVENTS, SUMMARY)
    )


def summary_reads(values: Mapping[str, float]) -> float:
    return metric(values, "congress_live_summary_reads_total")


async def sign_in_once(
    http: httpx.AsyncClient,
    servers: Mapping[str, Server],
    placed: Sequence[Placement],
    issuer: LocalIssuer,
) -> None:
    """Every subscriber's user asks who it is once, over HTTP, on its subscriber's server:
    what sign-ins alone leave in a worker (SQLite's page cache: up to 2 MiB on each of the
    pool's connections, filled by reading 5,000 users' assignments at a million
    committees) is then in the memory before subscribers, not counted as theirs."""
    limit = asyncio.Semaphore(SIGN_IN_CONCURRENCY)

    async def sign_in(placement: Placement) -> None:
        token = issuer.issue(placement.subject, TOKEN_TTL_SECONDS)
        async with limit:
            response = await http.post(
                servers[placement.server].graphql_url,
                json={"query": "{ viewer { name } }"},
                headers={"Authorization": f"Bearer {token}"},
            )
        if response.status_code != 200 or "errors" in response.json():
            raise RuntimeError(f"{placement.subject} could not sign in: {response.text}")

    await asyncio.gather(*(sign_in(placement) for placement in placed))


def resident_mib(server: Server) -> float:
    return sum(resident_memory_mib(pid) for pid in server_processes(server.process.pid))


def server_log_findings(server: Server) -> list[str]:
    """Lines of the server's log that say something went wrong."""
    return [
        line.strip()
        for line in server.log_path.read_text(errors="replace").splitlines()
        if any(marker in line for marker in SERVER_LOG_MARKERS)
    ]


def websocket_url(server: Server) -> str:
    return server.graphql_url.replace("http://", "ws://")


# --- the writer --------------------------------------------------------------------------


@dataclass(slots=True)
class Write:
    cell: Node
    sent_at: float  # time.time()
    answered_at: float | None = None
    version: int | None = None
    outcome: str = "unsent"  # ok, or what went wrong
    attempts: int = 0
    seconds: float | None = None  # first attempt to answer
    late: float = 0.0  # seconds after it was due that it was sent


async def send_write(client: httpx.AsyncClient, url: str, token: str, write: Write) -> None:
    """One recordMilestone, sent again with the same idempotency key after a 503 or a
    transport error (the write is then recorded once)."""
    variables = {
        "input": {
            "committeeId": write.cell.global_id,
            "milestone": WRITTEN_MILESTONE,
            "status": "IN_PROGRESS",
            "occurredOn": "2025-03-01",
            "idempotencyKey": str(uuid.uuid4()),
        }
    }
    started = time.perf_counter()
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        write.attempts = attempt
        try:
            response = await client.post(
                url,
                json={"query": RECORD_MILESTONE, "variables": variables},
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as error:
            write.outcome = f"{type(error).__name__}"
            await asyncio.sleep(0.5)
            continue
        if response.status_code == 503:
            write.outcome = "HTTP 503"
            await asyncio.sleep(float(response.headers.get("retry-after", "1")))
            continue
        answered_at = time.time()
        body = response.json()
        result = (body.get("data") or {}).get("recordMilestone") or {}
        if result.get("__typename") == "CongressPayload":
            write.answered_at = answered_at
            write.version = int(result["congress"]["version"])
            write.outcome = "ok"
            write.seconds = time.perf_counter() - started
            return
        write.outcome = str(result.get("__typename") or body.get("errors"))[:200]
        return


async def run_writes(
    server: Server, token: str, cells: Sequence[Node], rate: float, in_flight: int
) -> list[Write]:
    """One write due every 1/rate s, one fresh cell each, whatever the answers (open loop),
    but at most `in_flight` at once: past that a write waits for an answer and is sent late
    (`Write.late`). Unbounded, a server that falls behind gets its own backlog resent after
    each 503, and httpx's pool costs the writer a core once thousands of requests wait."""
    writes = [Write(cell, 0.0) for cell in cells]
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    gate = asyncio.Semaphore(in_flight)

    async def send(write: Write) -> None:
        try:
            await send_write(client, server.graphql_url, token, write)
        finally:
            gate.release()

    async with httpx.AsyncClient(limits=limits, timeout=HTTP_TIMEOUT_SECONDS) as client:
        tasks: list[asyncio.Task[None]] = []
        started = time.perf_counter()
        for number, write in enumerate(writes):
            due = started + number / rate
            if due > time.perf_counter():
                await asyncio.sleep(due - time.perf_counter())
            await gate.acquire()
            write.late = max(0.0, time.perf_counter() - due)
            write.sent_at = time.time()
            tasks.append(asyncio.create_task(send(write)))
        await asyncio.gather(*tasks)
    return writes


# --- checking what arrived ---------------------------------------------------------------


@dataclass(slots=True)
class Deliveries:
    """progressEvents subscribers: what should have come and what did."""

    expected: int = 0
    delivered: int = 0  # expected and received (once or more: counted once)
    lost: int = 0
    duplicated: int = 0  # extra copies
    out_of_scope: int = 0  # a write's event at a subscriber whose scope does not hold it
    unknown: int = 0  # an event for no confirmed write of this run
    version_mismatch: int = 0  # event's congress version differs from the write's answer
    received: int = 0  # every event message
    # seconds from recordedAt, and from the writer's answer, to receipt; by server
    from_recorded: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    from_answer: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    lost_examples: list[str] = field(default_factory=list)


def path_prefixes(path: str) -> Iterator[str]:
    """'/1/2/3/' -> '/1/', '/1/2/', '/1/2/3/'."""
    position = path.find("/", 1)
    while position != -1:
        yield path[: position + 1]
        position = path.find("/", position + 1)


def check_events(
    placed: Sequence[Placement], writes: Sequence[Write], reports: Sequence[ClientReport]
) -> Deliveries:
    result = Deliveries()
    subscribers_at: dict[str, list[Placement]] = defaultdict(list)
    for placement in placed:
        if placement.field == EVENTS:
            subscribers_at[placement.node.path].append(placement)
    confirmed = {write.cell.code: write for write in writes if write.outcome == "ok"}
    unconfirmed = {write.cell.code for write in writes if write.outcome != "ok"}
    by_index = {placement.index: placement for placement in placed}
    expected: set[tuple[int, str]] = set()
    for write in confirmed.values():
        for prefix in path_prefixes(write.cell.path):
            for placement in subscribers_at.get(prefix, ()):
                expected.add((placement.index, write.cell.code))
    result.expected = len(expected)
    seen: Counter[tuple[int, str]] = Counter()
    for report in reports:
        for index, code, version, recorded_at, received_at in report.events:
            result.received += 1
            key = (index, code)
            seen[key] += 1
            answered = confirmed.get(code)
            if answered is None:
                result.unknown += 1
                if code in unconfirmed:
                    result.lost_examples.append(f"event for an unconfirmed write at {code}")
                continue
            if key not in expected:
                result.out_of_scope += 1
                continue
            if seen[key] > 1:
                result.duplicated += 1
                continue
            if version != answered.version:
                result.version_mismatch += 1
            server = by_index[index].server
            recorded = datetime.fromisoformat(recorded_at).timestamp()
            result.from_recorded[server].append(received_at - recorded)
            assert answered.answered_at is not None
            result.from_answer[server].append(received_at - answered.answered_at)
    result.delivered = sum(1 for key in expected if seen[key] > 0)
    result.lost = result.expected - result.delivered
    for index, code in sorted(expected - set(seen))[:5]:
        result.lost_examples.append(f"subscriber {index} at {by_index[index].node.code}: {code}")
    return result


@dataclass(slots=True)
class SummaryCheck:
    subscribers: int = 0
    watches: int = 0  # distinct (server, committee)
    messages: int = 0  # after the first
    right: int = 0  # last value = first + confirmed writes in the subtree
    wrong: list[str] = field(default_factory=list)
    without_writes: int = 0  # messages to subscribers whose subtree had no write


def check_summaries(
    placed: Sequence[Placement], writes: Sequence[Write], reports: Sequence[ClientReport]
) -> SummaryCheck:
    result = SummaryCheck()
    watchers = [p for p in placed if p.field == SUMMARY]
    result.subscribers = len(watchers)
    result.watches = len({(p.server, p.node.id) for p in watchers})
    initial: dict[int, int] = {}
    last: dict[int, tuple[float, int]] = {}
    counts: Counter[int] = Counter()
    for report in reports:
        initial.update(report.initial)
        for index, in_progress, received_at in report.summaries:
            counts[index] += 1
            if index not in last or received_at >= last[index][0]:
                last[index] = (received_at, in_progress)
    written_under: Counter[str] = Counter()
    for write in writes:
        if write.outcome == "ok":
            for prefix in path_prefixes(write.cell.path):
                written_under[prefix] += 1
    for placement in watchers:
        if placement.index not in initial:
            continue  # never connected: a connect failure, reported as such
        result.messages += counts[placement.index]
        written = written_under[placement.node.path]
        if written == 0:
            result.without_writes += counts[placement.index]
        final = last.get(placement.index, (0.0, initial[placement.index]))[1]
        if final - initial[placement.index] == written:
            result.right += 1
        else:
            result.wrong.append(
                f"{placement.node.code} on {placement.server}: {initial[placement.index]} -> "
                f"{final}, {written} written"
            )
    return result


# --- the summaries on their own ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SummaryPhase:
    subscribers: int
    connected: int
    reads_on_join: float
    changes: int
    reads_for_changes: float
    messages_min: int  # per subscriber, the first included
    messages_max: int
    final_right: int  # subscribers whose last value counted every change


async def summary_phase(
    http: httpx.AsyncClient,
    writer: Server,
    reader: Server,
    writer_token: str,
    specs: Sequence[SubscriberSpec],
    cells: Sequence[Node],
    interval_seconds: float,
) -> SummaryPhase:
    """`specs` all watch one committee's summary on `reader`; one write below it per live
    interval through `writer`; the reader's summary reads counted."""
    before = summary_reads(await scrape(http, reader))
    async with AsyncExitStack() as stack:
        opened = await asyncio.gather(
            *(open_subscription(spec) for spec in specs), return_exceptions=True
        )
        sockets: list[tuple[ClientConnection, int]] = []
        for outcome in opened:
            if isinstance(outcome, BaseException):
                print(f"    a summary subscriber failed to connect: {outcome!r}", flush=True)
                continue
            socket, first = outcome
            stack.push_async_callback(socket.close)
            assert first is not None
            sockets.append((socket, first))
        joined = summary_reads(await scrape(http, reader))
        values: list[list[int]] = [[first] for _, first in sockets]

        async def follow(position: int, socket: ClientConnection) -> None:
            with_value = values[position]
            try:
                async for raw in socket:
                    message = json.loads(raw)
                    if message.get("type") == "next" and not message["payload"].get("errors"):
                        with_value.append(int(message["payload"]["data"]["progress"]["inProgress"]))
            except ConnectionClosed:
                pass

        readers = [
            asyncio.create_task(follow(position, socket))
            for position, (socket, _) in enumerate(sockets)
        ]
        limits = httpx.Limits(max_connections=4)
        async with httpx.AsyncClient(limits=limits, timeout=HTTP_TIMEOUT_SECONDS) as writes_client:
            confirmed = 0
            for cell in cells:
                write = Write(cell, time.time())
                await send_write(writes_client, writer.graphql_url, writer_token, write)
                confirmed += write.outcome == "ok"
                await asyncio.sleep(interval_seconds + 0.3)
        # The last change's summary, then what may still come.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if all(v[-1] - v[0] >= confirmed for v in values):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(interval_seconds)
        after = summary_reads(await scrape(http, reader))
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    counts = [len(v) for v in values] or [0]
    return SummaryPhase(
        subscribers=len(specs),
        connected=len(sockets),
        reads_on_join=joined - before,
        changes=confirmed,
        reads_for_changes=after - joined,
        messages_min=min(counts),
        messages_max=max(counts),
        final_right=sum(1 for v in values if v[-1] - v[0] == confirmed),
    )


# --- one backend -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    subscribers: int
    rate: float
    seconds: float
    cells_per_commune: int
    client_processes: int
    connect_concurrency: int
    summary_changes: int
    seed: int
    writes_in_flight: int
    rebuild: bool


@dataclass(slots=True)
class Figures:
    """Everything measured on one backend."""

    backend: str
    committees: int
    placed: list[Placement]
    users_added: int
    users_seconds: float
    connected: int
    connect_failures: list[tuple[int, str]]
    connect_seconds: float
    rss_cold: dict[str, float]  # before the sign-ins
    rss_before: dict[str, float]  # after every subscriber's user signed in once over HTTP
    rss_first: dict[str, float]  # after the first tenth connected
    rss_idle: dict[str, float]
    first_count: int
    idle_cpu_seconds: float
    idle_seconds: float
    writes: list[Write]
    write_seconds: float
    server_cpu: dict[str, float]  # over the writes and the drain
    client_cpu: float
    window_seconds: float
    sent: dict[str, float]  # messages the servers counted over the same window
    deliveries: Deliveries
    summaries: SummaryCheck
    summary_messages: dict[str, int]  # received in the window, by server
    event_messages: dict[str, int]
    reads_during_writes: float
    stream_errors: list[tuple[int, str]]
    resumed: list[tuple[int, float]]
    summary_phases: list[SummaryPhase]
    interval_seconds: float
    load_average: float
    log_findings: dict[str, list[str]]


async def run_backend(backend: str, options: Options) -> Figures:
    database = bench_database(backend, options.cells_per_commune)
    print(f"{backend}: {database.url}", flush=True)
    if options.rebuild:
        await reset_database(database)
    preparation = await prepare(database)
    for what, seconds in (
        ("build", preparation.build_seconds),
        ("spread", preparation.spread_seconds),
    ):
        print(f"  {what:<18} " + ("reused" if seconds is None else f"{seconds:.1f} s"), flush=True)
    rng = random.Random(options.seed)
    tree = await read_tree(database)
    level_nodes = place_subscribers(tree, options.subscribers, rng)
    cell_count = options.subscribers - len(level_nodes)
    cells = await nodes_by_id(database, rng.sample(tree.cells, cell_count), "cell")
    placed = placements(level_nodes, cells)
    province = tree.node(SUMMARY_PHASE_PROVINCE)
    centre = tree.node(CENTRAL_CODE)
    phase_subjects = [
        f"{SUBJECT_PREFIX}{province.id}-{n}" for n in range(max(SUMMARY_PHASE_SUBSCRIBERS))
    ]
    wanted: dict[str, tuple[int, Role]] = {p.subject: (p.node.id, Role.VIEWER) for p in placed}
    wanted.update({subject: (province.id, Role.VIEWER) for subject in phase_subjects})
    wanted[WRITER_SUBJECT] = (centre.id, Role.REPORTER)
    users_added, users_seconds = await ensure_users(database, wanted)
    print(
        f"  users              {users_added:,} added in {users_seconds:.1f} s ({len(wanted):,} in all)",
        flush=True,
    )
    phase_cells = await not_started_cells(
        database,
        province.path,
        set(),
        options.summary_changes * len(SUMMARY_PHASE_SUBSCRIBERS),
        options.seed,
    )
    write_count = math.ceil(options.rate * options.seconds)
    write_cells = await not_started_cells(
        database, None, {cell.id for cell in phase_cells}, write_count, options.seed
    )
    settings = Settings(data_dir=database.data_dir)
    issuer = LocalIssuer.load_or_create(settings.signing_key_path)
    writer_token = issuer.issue(WRITER_SUBJECT, TOKEN_TTL_SECONDS)
    os.environ.update(SERVER_ENVIRONMENT)
    interval_seconds = Settings.from_env().live_interval_ms / 1000
    servers = {
        SERVER_A: start_server(database.url, database.data_dir, log_name="live-a.log"),
        SERVER_B: start_server(database.url, database.data_dir, log_name="live-b.log"),
    }
    clients: list[ClientProcess] = []
    try:
        for server in servers.values():
            await wait_until_ready(server)
        urls = {name: websocket_url(server) for name, server in servers.items()}
        specs = [
            SubscriberSpec(
                p.index,
                urls[p.server],
                issuer.issue(p.subject, TOKEN_TTL_SECONDS),
                p.field,
                p.node.global_id,
            )
            for p in placed
        ]
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as http:
            rss_cold = {name: resident_mib(s) for name, s in servers.items()}
            await sign_in_once(http, servers, placed, issuer)
            # Each server's live half starts with its first subscriber: start it (and warm the
            # sign-in path) with the first tenth, so the rest show the cost per subscriber.
            rss_before = {name: resident_mib(s) for name, s in servers.items()}
            first_count = max(2, len(specs) // 10)
            clients = start_clients(specs[:first_count], 1, options.connect_concurrency)
            failed, _ = await clients[0].ready()
            report_failures(failed)
            failed_indices = {index for index, _ in failed}
            await wait_for_subscriptions(
                http, servers, [p for p in placed[:first_count] if p.index not in failed_indices]
            )
            await asyncio.sleep(IDLE_SECONDS)
            rss_first = {name: resident_mib(s) for name, s in servers.items()}
            print(
                f"  first {first_count:,} subscribed, servers {describe_rss(rss_first)}", flush=True
            )
            rest = start_clients(
                specs[first_count:], options.client_processes, options.connect_concurrency
            )
            clients.extend(rest)
            connect_seconds = 0.0
            for client in rest:
                failed, seconds = await client.ready()
                report_failures(failed)
                failed_indices.update(index for index, _ in failed)
                connect_seconds = max(connect_seconds, seconds)
            connected = len(placed) - len(failed_indices)
            await wait_for_subscriptions(
                http, servers, [p for p in placed if p.index not in failed_indices]
            )
            idle_cpu_before = server_cpu(servers)
            idle_started = time.perf_counter()
            await asyncio.sleep(IDLE_SECONDS)
            idle_seconds = time.perf_counter() - idle_started
            idle_cpu = server_cpu(servers) - idle_cpu_before
            rss_idle = {name: resident_mib(s) for name, s in servers.items()}
            print(
                f"  all subscribed     {connected:,} open, the rest in {connect_seconds:.1f} s, servers {describe_rss(rss_idle)}",
                flush=True,
            )
            metrics_before = {name: await scrape(http, s) for name, s in servers.items()}
            cpu_before = {name: cpu_seconds(s.process.pid) for name, s in servers.items()}
            client_cpu_before = sum(client_cpu_seconds(c) for c in clients)
            window_started = time.perf_counter()
            writes = await run_writes(
                servers[SERVER_A], writer_token, write_cells, options.rate, options.writes_in_flight
            )
            write_seconds = time.perf_counter() - window_started
            confirmed = sum(1 for w in writes if w.outcome == "ok")
            print(
                f"  writes             {confirmed:,} of {len(writes):,} confirmed in {write_seconds:.1f} s",
                flush=True,
            )
            await drain(http, servers)
            window_seconds = time.perf_counter() - window_started
            cpu_after = {name: cpu_seconds(s.process.pid) for name, s in servers.items()}
            client_cpu = sum(client_cpu_seconds(c) for c in clients) - client_cpu_before
            metrics_after = {name: await scrape(http, s) for name, s in servers.items()}
            load_average = os.getloadavg()[0]
            reports = [await client.stop() for client in clients]
            clients = []
            connect_failures = [f for r in reports for f in r.connect_failures]
            deliveries = check_events(placed, writes, reports)
            summaries = check_summaries(placed, writes, reports)
            by_index = {p.index: p for p in placed}
            event_messages: Counter[str] = Counter(
                by_index[e[0]].server for r in reports for e in r.events
            )
            summary_messages: Counter[str] = Counter(
                by_index[s[0]].server for r in reports for s in r.summaries
            )
            print("  summaries alone    (main subscribers closed)", flush=True)
            phases = []
            await wait_for_subscriptions(http, servers, [])
            for number, count in enumerate(SUMMARY_PHASE_SUBSCRIBERS):
                phase_specs = [
                    SubscriberSpec(
                        -1,
                        urls[SERVER_B],
                        issuer.issue(subject, TOKEN_TTL_SECONDS),
                        SUMMARY,
                        province.global_id,
                    )
                    for subject in phase_subjects[:count]
                ]
                changes = phase_cells[
                    number * options.summary_changes : (number + 1) * options.summary_changes
                ]
                phase = await summary_phase(
                    http,
                    servers[SERVER_A],
                    servers[SERVER_B],
                    writer_token,
                    phase_specs,
                    changes,
                    interval_seconds,
                )
                print(
                    f"    {count:>3} subscribers: {phase.reads_on_join:g} reads on joining, "
                    f"{phase.reads_for_changes:g} for {phase.changes} changes",
                    flush=True,
                )
                phases.append(phase)
    finally:
        for client in clients:
            client.process.kill()
        for server in servers.values():
            stop_server(server)
    return Figures(
        backend=backend,
        committees=demo_size(options.cells_per_commune),
        placed=placed,
        users_added=users_added,
        users_seconds=users_seconds,
        connected=len(placed) - len(connect_failures),
        connect_failures=connect_failures,
        connect_seconds=connect_seconds,
        rss_cold=rss_cold,
        rss_before=rss_before,
        rss_first=rss_first,
        rss_idle=rss_idle,
        first_count=first_count,
        idle_cpu_seconds=idle_cpu,
        idle_seconds=idle_seconds,
        writes=writes,
        write_seconds=write_seconds,
        server_cpu={name: cpu_after[name] - cpu_before[name] for name in servers},
        client_cpu=client_cpu,
        window_seconds=window_seconds,
        sent={
            name: messages_sent(metrics_after[name]) - messages_sent(metrics_before[name])
            for name in servers
        },
        deliveries=deliveries,
        summaries=summaries,
        summary_messages=dict(summary_messages),
        event_messages=dict(event_messages),
        reads_during_writes=sum(
            summary_reads(metrics_after[name]) - summary_reads(metrics_before[name])
            for name in servers
        ),
        stream_errors=[e for r in reports for e in r.errors],
        resumed=[e for r in reports for e in r.resumed],
        summary_phases=phases,
        interval_seconds=interval_seconds,
        load_average=load_average,
        log_findings={name: server_log_findings(s) for name, s in servers.items()},
    )


def report_failures(failed: Sequence[tuple[int, str]]) -> None:
    if failed:
        print(f"  {len(failed)} subscriptions failed to open, e.g. {failed[0][1]}", flush=True)


def server_cpu(servers: Mapping[str, Server]) -> float:
    return sum(cpu_seconds(server.process.pid) for server in servers.values())


def describe_rss(rss: Mapping[str, float]) -> str:
    return ", ".join(f"{name} {mib:.0f} MiB" for name, mib in rss.items())


async def wait_for_subscriptions(
    http: httpx.AsyncClient, servers: Mapping[str, Server], placed: Sequence[Placement]
) -> None:
    """Until each server counts as open exactly the subscriptions placed on it (the
    progressEvents ones send nothing when they start)."""
    wanted = Counter(p.server for p in placed)
    deadline = time.monotonic() + OPEN_TIMEOUT_SECONDS
    while True:
        open_now = {name: open_subscriptions(await scrape(http, s)) for name, s in servers.items()}
        if all(open_now[name] == wanted[name] for name in servers):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"subscriptions open {open_now}, wanted {dict(wanted)}")
        await asyncio.sleep(0.5)


async def drain(http: httpx.AsyncClient, servers: Mapping[str, Server]) -> None:
    """Until the servers' message counters stay still for DRAIN_QUIET_SECONDS."""
    deadline = time.monotonic() + DRAIN_MAX_SECONDS
    last = -1.0
    still_since = time.monotonic()
    while time.monotonic() < deadline:
        now = sum([messages_sent(await scrape(http, s)) for s in servers.values()])
        if now != last:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since >= DRAIN_QUIET_SECONDS:
            return
        await asyncio.sleep(0.25)


# --- the report --------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile; nan for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value * 1000:,.1f}"


def latency(values: Sequence[float]) -> str:
    if not values:
        return "none"
    return f"p50 {ms(percentile(values, 0.5))}, p99 {ms(percentile(values, 0.99))}, max {ms(max(values))} ms"


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


def level_counts(placed: Iterable[Placement]) -> str:
    counts = Counter((p.node.level, p.field) for p in placed)
    parts = []
    for level in LEVELS:
        events, summaries = counts[(level, EVENTS)], counts[(level, SUMMARY)]
        if events or summaries:
            parts.append(
                f"{level} {events:,}" + (f" (+{summaries:,} summary)" if summaries else "")
            )
    return ", ".join(parts)


def table(figures: Sequence[Figures]) -> list[list[str]]:
    rows: list[list[str]] = [["", "goal", *(f.backend for f in figures)]]

    def row(label: str, goal: str, cell: Any) -> None:
        rows.append([label, goal, *(str(cell(f)) for f in figures)])

    def confirmed(f: Figures) -> int:
        return sum(1 for w in f.writes if w.outcome == "ok")

    def all_latencies(values: dict[str, list[float]]) -> list[float]:
        return [v for server in values.values() for v in server]

    def rss_per_thousand(f: Figures, start: dict[str, float], count: int) -> float:
        return (
            (sum(f.rss_idle.values()) - sum(start.values())) / count * 1000
            if count
            else float("nan")
        )

    def memory_judged(mib: float) -> str:
        """MiB per 1,000 subscribers against the goal, which is in MB."""
        return f"{mib:.1f} MiB {verdict(mib * 1.048576 <= 30)}"

    def delivered_total(f: Figures) -> int:
        return f.deliveries.received + f.summaries.messages

    row("committees", "", lambda f: f"{f.committees:,}")
    row("subscribers (connected)", "", lambda f: f"{len(f.placed):,} ({f.connected:,})")
    row(
        "  of which progress summaries",
        "",
        lambda f: f"{f.summaries.subscribers:,} ({f.summaries.watches:,} watches)",
    )
    row("connect + subscribe (after the first tenth)", "", lambda f: f"{f.connect_seconds:.1f} s")
    row("writes confirmed / sent", "", lambda f: f"{confirmed(f):,} / {len(f.writes):,}")
    row("write rate achieved", "", lambda f: f"{len(f.writes) / f.write_seconds:.1f}/s")
    row(
        "writes sent > 100 ms late (in flight at the bound)",
        "0",
        lambda f: f"{sum(1 for w in f.writes if w.late > 0.1):,}",
    )
    row(
        "write answer p50 / p99 (ms)",
        "",
        lambda f: " / ".join(
            ms(percentile([w.seconds for w in f.writes if w.seconds is not None], q))
            for q in (0.5, 0.99)
        ),
    )
    row("events expected", "", lambda f: f"{f.deliveries.expected:,}")
    row("events delivered (once)", "= expected", lambda f: f"{f.deliveries.delivered:,}")
    row("lost", "0", lambda f: f"{f.deliveries.lost:,} {verdict(f.deliveries.lost == 0)}")
    row(
        "duplicated",
        "0",
        lambda f: f"{f.deliveries.duplicated:,} {verdict(f.deliveries.duplicated == 0)}",
    )
    row(
        "out of scope",
        "0",
        lambda f: f"{f.deliveries.out_of_scope:,} {verdict(f.deliveries.out_of_scope == 0)}",
    )
    row("events of no confirmed write", "0", lambda f: f"{f.deliveries.unknown:,}")
    row(
        "congress version differs from the write's",
        "0",
        lambda f: f"{f.deliveries.version_mismatch:,}",
    )
    row("stream errors / closes", "0", lambda f: f"{len(f.stream_errors):,}")
    row(
        "closed as too far behind, resumed after cursor",
        "0",
        lambda f: f"{len(f.resumed):,} ({len({i for i, _ in f.resumed})} subscribers)",
    )
    row(
        "latency on B (other worker), recordedAt→receipt p50",
        "",
        lambda f: ms(percentile(f.deliveries.from_recorded[SERVER_B], 0.5)),
    )
    row(
        "latency on B, recordedAt→receipt p99",
        "≤ 250",
        lambda f: (
            f"{ms(percentile(f.deliveries.from_recorded[SERVER_B], 0.99))} {verdict(percentile(f.deliveries.from_recorded[SERVER_B], 0.99) <= 0.25)}"
        ),
    )
    row(
        "latency on B, writer's answer→receipt p50 / p99",
        "",
        lambda f: " / ".join(
            ms(percentile(f.deliveries.from_answer[SERVER_B], q)) for q in (0.5, 0.99)
        ),
    )
    row(
        "latency on A (writer's worker), recordedAt→receipt p50 / p99",
        "",
        lambda f: " / ".join(
            ms(percentile(f.deliveries.from_recorded[SERVER_A], q)) for q in (0.5, 0.99)
        ),
    )
    row(
        "latency, all, recordedAt→receipt max",
        "",
        lambda f: ms(max(all_latencies(f.deliveries.from_recorded), default=float("nan"))),
    )
    row("summaries: messages (after the first)", "", lambda f: f"{f.summaries.messages:,}")
    row(
        "summaries: last value = first + writes below",
        "all",
        lambda f: (
            f"{f.summaries.right:,} of {f.summaries.subscribers:,} {verdict(f.summaries.right == f.summaries.subscribers)}"
        ),
    )
    row(
        "summaries: messages to subtrees without writes",
        "0",
        lambda f: f"{f.summaries.without_writes:,}",
    )
    row(
        "messages received by clients (events + summaries)", "", lambda f: f"{delivered_total(f):,}"
    )
    row("messages counted by the servers", "= received", lambda f: f"{sum(f.sent.values()):,.0f}")
    row(
        "server CPU, A + B, over writes and drain",
        "",
        lambda f: f"{sum(f.server_cpu.values()):.1f} s in {f.window_seconds:.1f} s",
    )
    row(
        "server CPU per delivered message (A + B, writes included)",
        "",
        lambda f: f"{sum(f.server_cpu.values()) / max(1, delivered_total(f)) * 1000:.2f} ms",
    )
    row(
        "server B CPU per message B sent (no writes on B)",
        "",
        lambda f: f"{f.server_cpu[SERVER_B] / max(1.0, f.sent[SERVER_B]) * 1000:.2f} ms",
    )
    row(
        "server A CPU per confirmed write (incl. A's messages)",
        "",
        lambda f: f"{f.server_cpu[SERVER_A] / max(1, confirmed(f)) * 1000:.2f} ms",
    )
    row(
        "client processes' CPU (share of one core)",
        "",
        lambda f: f"{f.client_cpu / f.window_seconds:.0%}",
    )
    row("servers' RSS as started (A + B)", "", lambda f: f"{sum(f.rss_cold.values()):.0f} MiB")
    row(
        "servers' RSS after each user signed in once, before subscribers",
        "",
        lambda f: f"{sum(f.rss_before.values()):.0f} MiB",
    )
    row(
        "servers' RSS, first tenth subscribed", "", lambda f: f"{sum(f.rss_first.values()):.0f} MiB"
    )
    row("servers' RSS, all subscribed, idle", "", lambda f: f"{sum(f.rss_idle.values()):.0f} MiB")
    row(
        "RSS per 1,000 idle subscribers (from none)",
        "≤ 30 MB",
        lambda f: memory_judged(rss_per_thousand(f, f.rss_before, len(f.placed))),
    )
    row(
        "RSS per 1,000 idle subscribers (after the first tenth)",
        "≤ 30 MB",
        lambda f: memory_judged(rss_per_thousand(f, f.rss_first, len(f.placed) - f.first_count)),
    )
    row(
        "server CPU while idle with all subscribed",
        "",
        lambda f: f"{f.idle_cpu_seconds / f.idle_seconds:.1%} of a core",
    )
    row(
        "summary reads during the writes (A + B)",
        "",
        lambda f: (
            f"{f.reads_during_writes:,.0f} ({f.reads_during_writes / max(1, confirmed(f)):.2f} a write)"
        ),
    )
    for number, count in enumerate(SUMMARY_PHASE_SUBSCRIBERS):
        row(
            f"summary reads / changes, {count} on one province (B)",
            "equal",
            lambda f, n=number: (
                phase_cell(f.summary_phases[n]) if len(f.summary_phases) > n else "n/a"
            ),
        )
    row(
        "load average (1 min) after the writes",
        "",
        lambda f: f"{f.load_average:.2f} ({os.cpu_count()} CPUs)",
    )
    row(
        "server log lines with errors or warnings (A / B)",
        "0",
        lambda f: " / ".join(str(len(f.log_findings[s])) for s in (SERVER_A, SERVER_B)),
    )
    return rows


def phase_cell(phase: SummaryPhase) -> str:
    return f"{phase.reads_for_changes:g} / {phase.changes}"


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells.extend(cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))
        print("  ".join(cells).rstrip())


def print_details(figures: Sequence[Figures]) -> None:
    for f in figures:
        print(f"\n{f.backend}: subscribers {level_counts(f.placed)}")
        print(f"  users added this run: {f.users_added:,} ({f.users_seconds:.1f} s)")
        for name in (SERVER_A, SERVER_B):
            print(
                f"  server {name}: RSS {f.rss_cold[name]:.0f} -> {f.rss_before[name]:.0f} -> {f.rss_first[name]:.0f} -> "
                f"{f.rss_idle[name]:.0f} MiB; CPU {f.server_cpu[name]:.1f} s; messages sent "
                f"{f.sent[name]:,.0f} (events received {f.event_messages.get(name, 0):,}, "
                f"summaries {f.summary_messages.get(name, 0):,}); latency recordedAt→receipt "
                f"{latency(f.deliveries.from_recorded[name])}"
            )
        for phase in f.summary_phases:
            print(
                f"  {phase.subscribers} on one province's summary ({phase.connected} connected): "
                f"{phase.reads_on_join:g} read(s) on joining, {phase.reads_for_changes:g} for "
                f"{phase.changes} changes; {phase.messages_min}-{phase.messages_max} messages "
                f"each (the first included); {phase.final_right} with the last value right"
            )
        outcomes = Counter(w.outcome for w in f.writes)
        retried = sum(1 for w in f.writes if w.attempts > 1)
        print(f"  write outcomes: {dict(outcomes)}; sent again: {retried}")
        for label, items in (
            ("connect failures", [f"{i}: {m}" for i, m in f.connect_failures]),
            ("stream errors", [f"{i}: {m}" for i, m in f.stream_errors]),
            ("lost (examples)", f.deliveries.lost_examples),
            ("summaries wrong", f.summaries.wrong),
            ("server A log", f.log_findings[SERVER_A]),
            ("server B log", f.log_findings[SERVER_B]),
        ):
            if items:
                print(f"  {label} ({len(items)}):")
                for item in items[:5]:
                    print(f"    {item[:300]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--subscribers", type=int, default=None, help="5000 (300 with --small)")
    parser.add_argument("--rate", type=float, default=50.0, help="writes a second")
    parser.add_argument(
        "--seconds", type=float, default=None, help="of writes: 60 (10 with --small)"
    )
    parser.add_argument("--cells-per-commune", type=int, default=None, help="300 (5 with --small)")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument(
        "--connect-concurrency", type=int, default=50, help="handshakes at once, per client process"
    )
    parser.add_argument("--summary-changes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument(
        "--writes-in-flight", type=int, default=16, help="at most this many writes unanswered"
    )
    parser.add_argument("--small", action="store_true", help="a quick smoke test")
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="rebuild the database first (each run consumes cells whose congress has not started)",
    )
    arguments = parser.parse_args()
    small = arguments.small
    options = Options(
        subscribers=arguments.subscribers or (300 if small else 5000),
        rate=arguments.rate,
        seconds=arguments.seconds or (10.0 if small else 60.0),
        cells_per_commune=arguments.cells_per_commune or (5 if small else 300),
        client_processes=arguments.client_processes,
        connect_concurrency=arguments.connect_concurrency,
        summary_changes=arguments.summary_changes,
        seed=arguments.seed,
        writes_in_flight=arguments.writes_in_flight,
        rebuild=arguments.rebuild,
    )
    limit = raise_open_files_limit()
    if limit < options.subscribers + 1000:
        sys.exit(f"the open-files limit ({limit}) is too low for {options.subscribers} sockets")
    backends = BACKENDS if arguments.backend == "both" else (arguments.backend,)
    figures = [asyncio.run(run_backend(backend, options)) for backend in backends]
    print(
        f"\n{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; "
        f"`{shlex.join(['python', '-m', 'bench.live', *sys.argv[1:]])}`; "
        f"{options.subscribers:,} subscribers from 1 + {options.client_processes} client "
        "processes (the first tenth, then the rest), "
        f"{options.rate:g} writes/s for {options.seconds:g} s, two workers (A takes the writes), "
        f"live summaries at most every {figures[0].interval_seconds:g} s; latencies in ms"
    )
    print_table(table(figures))
    print_details(figures)


if __name__ == "__main__":
    main()
