"""The database failing under load, as an operator would try it (issue 20, README "When the
database fails").

    .venv/bin/python -m bench.faults [--backends postgresql,sqlite] [--clients 20,60]
                                     [--fault-seconds 30]

For each backend, number of clients and fault: `congress serve` (one worker) over the
tests' demo on a new database; the clients, a third of them writers, send requests back to
back; after 2 s the fault starts and lasts `--fault-seconds`; the load goes on 3 s after.

- postgresql `restart`: a TCP proxy between the server and PostgreSQL resets every
  connection once a second through the fault (each lives under a second, as a restart);
- postgresql `stopped`: the proxy refuses every connection through the fault;
- postgresql `stalled`: the proxy holds every byte both ways, closing nothing (a network
  that drops every packet, a frozen server);
- postgresql `locked`: another session holds `LOCK TABLE congress IN ACCESS EXCLUSIVE MODE`;
- sqlite `locked`: another process holds SQLite's write lock (`BEGIN IMMEDIATE`);
- `shutdown`: SIGTERM at the fault's start, under the load.

A writer raises difficulties with unique titles, each with an idempotency key, and repeats
one answered OUTCOME_UNKNOWN or cut off with the same key until an answer settles it (as
README's contract says; "unsettled" if none did within 60 s). Printed per fault: requests; answers by kind (ok: data and no error; JSON
by HTTP status; plain text; dropped connections; refused once the server was stopping); writes acknowledged, then from the database: lost
(acknowledged, not there), duplicated (there twice), misreported (answered as not recorded,
yet there); the p99 of a `{ __typename }` sent every 0.2 s through the fault, from a
process of its own (the load's event loop would delay it), and how many were not 200; the seconds
from the fault's end to the first answered read; for shutdown the exit status and seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from models import Difficulty
from models.database import create_engine
from tests.databases import POSTGRES_ADMIN_DSN
from tests.served import CONGRESS, RAISE, READ, REPORTER, Served, serving
from tests.tcp_proxy import TcpProxy, tcp_proxy

WARM_SECONDS = 2.0
AFTER_SECONDS = 3.0
PROBE_EVERY_SECONDS = 0.2
# How long a writer repeats a write whose outcome is unknown before it counts it unsettled.
UNKNOWN_FOR_AT_MOST_SECONDS = 60.0
# The server as deployed (the defaults of README, Configuration), but with no rate limits:
# twenty clients on one official's token would spend its quota in a second.
SERVER_SETTINGS = {
    "CONGRESS_LOCK_WAIT_SECONDS": "5",
    "CONGRESS_POOL_WAIT_SECONDS": "5",
    "CONGRESS_SHUTDOWN_TIMEOUT": "20",
    "CONGRESS_RATE_LIMITS": "off",
}
# What a client must never see (the goals, README "When the database fails").
GOALS = "0 lost, 0 duplicated, 0 plain text, 0 dropped, 0 misreported, p99 < 100 ms, back < 2 s"


@dataclass
class Tally:
    answers: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    acknowledged: set[str] = field(default_factory=set)
    reported_unrecorded: set[str] = field(default_factory=set)
    unsettled: set[str] = field(default_factory=set)
    # Set once the server was told to stop: a connection refused then is its end, not a drop.
    stopping: bool = False

    def note(self, answer: httpx.Response | None) -> str | None:
        """The answer's kind, counted; its first error code, if any."""
        if answer is None:
            self.answers["refused while stopping" if self.stopping else "dropped"] += 1
            return None
        if not answer.headers.get("content-type", "").startswith("application/"):
            self.answers["plain text"] += 1
            return None
        self.answers[f"HTTP {answer.status_code}"] += 1
        errors = answer.json().get("errors") or []
        code = errors[0].get("extensions", {}).get("code") if errors else None
        if code:
            self.codes[code] += 1
        else:
            self.answers["ok"] += 1
        return str(code) if code else None


async def post(
    client: httpx.AsyncClient, served: Served, token: str, query: str, **variables: object
) -> httpx.Response | None:
    try:
        return await client.post(
            served.server.graphql_url,
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
    except httpx.TransportError:
        return None


async def reader(served: Served, token: str, tally: Tally, stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        while not stop.is_set():
            tally.note(await post(client, served, token, READ))


async def writer(
    served: Served, token: str, committee_id: str, tally: Tally, stop: asyncio.Event
) -> None:
    """Writes as README's contract says: an answer that leaves the outcome unknown
    (OUTCOME_UNKNOWN, a cut connection) is repeated with the same key until one settles
    it; once unknown, an UNAVAILABLE for the repeat says only that the repeat recorded
    nothing, so it is repeated again. A first answer saying nothing was recorded is taken
    at its word (and checked against the database afterwards)."""
    async with httpx.AsyncClient(timeout=60) as client:
        while not stop.is_set():
            title = f"fault-{uuid.uuid4().hex[:16]}"
            write = {"committeeId": committee_id, "title": title, "description": "",
                     "category": "OTHER", "idempotencyKey": str(uuid.uuid4())}  # fmt: skip
            unknown = False
            give_up_at = time.monotonic() + UNKNOWN_FOR_AT_MOST_SECONDS
            while time.monotonic() < give_up_at:
                answer = await post(client, served, token, RAISE, input=write)
                code = tally.note(answer)
                if answer is not None and code is None:
                    if (
                        answer.json()["data"]["raiseDifficulty"]["__typename"]
                        == "DifficultyPayload"
                    ):
                        tally.acknowledged.add(title)
                    break
                if answer is None or code == "OUTCOME_UNKNOWN":
                    unknown = True
                elif not unknown:
                    tally.reported_unrecorded.add(title)  # it says: nothing was recorded
                    break
                await asyncio.sleep(0.5)
            else:
                tally.unsettled.add(title)


def probe_process(url: str, token: str, stop: EventType, found: Connection) -> None:
    """In a process of its own, so that the load's event loop (60 clients in this one)
    does not delay it: a `{ __typename }` every PROBE_EVERY_SECONDS until `stop`; sends
    back (milliseconds, HTTP status or 0 for no answer) for each."""
    probes: list[tuple[float, int]] = []
    with httpx.Client(timeout=60) as client:
        while not stop.is_set():
            started = time.monotonic()
            try:
                status = client.post(
                    url,
                    json={"query": "{ __typename }"},
                    headers={"Authorization": f"Bearer {token}"},
                ).status_code
            except httpx.TransportError:
                status = 0
            probes.append(((time.monotonic() - started) * 1000, status))
            stop.wait(max(0.0, PROBE_EVERY_SECONDS - (time.monotonic() - started)))
    found.send(probes)


@contextmanager
def probing(served: Served, token: str) -> Iterator[list[tuple[float, int]]]:
    """`probe_process` through the block; its probes in the list yielded, once it ends."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(
        target=probe_process, args=(served.server.graphql_url, token, stop, sending)
    )
    process.start()
    probes: list[tuple[float, int]] = []
    try:
        yield probes
    finally:
        stop.set()
        probes.extend(receiving.recv())
        process.join()


async def first_read_after(served: Served, token: str) -> float:
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=60) as client:
        while True:
            answer = await post(client, served, token, READ)
            if answer is not None and answer.status_code == 200 and "errors" not in answer.json():
                return time.monotonic() - started
            if time.monotonic() - started > 60:
                return float("inf")
            await asyncio.sleep(0.05)


Fault = Callable[[Served, TcpProxy | None, float], Awaitable[dict[str, object]]]


async def restart(_served: Served, proxy: TcpProxy | None, seconds: float) -> dict[str, object]:
    assert proxy is not None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        proxy.cut()
        proxy.let_through()
        await asyncio.sleep(1.0)
    return {}


async def stopped(_served: Served, proxy: TcpProxy | None, seconds: float) -> dict[str, object]:
    assert proxy is not None
    proxy.cut()
    await asyncio.sleep(seconds)
    proxy.let_through()
    return {}


async def stalled(_served: Served, proxy: TcpProxy | None, seconds: float) -> dict[str, object]:
    assert proxy is not None
    proxy.stall()
    await asyncio.sleep(seconds)
    proxy.let_through()
    return {}


async def pg_locked(served: Served, _proxy: TcpProxy | None, seconds: float) -> dict[str, object]:
    dsn = make_url(served.database_url).set(drivername="postgresql").render_as_string(False)
    holder = await asyncpg.connect(dsn)
    try:
        await holder.execute("BEGIN; LOCK TABLE congress IN ACCESS EXCLUSIVE MODE")
        await asyncio.sleep(seconds)
        await holder.execute("ROLLBACK")
    finally:
        await holder.close()
    return {}


async def sqlite_locked(
    served: Served, _proxy: TcpProxy | None, seconds: float
) -> dict[str, object]:
    path = make_url(served.database_url).database
    holder = sqlite3.connect(str(path), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        await asyncio.sleep(seconds)
        holder.execute("ROLLBACK")
    finally:
        holder.close()
    return {}


async def shutdown(served: Served, _proxy: TcpProxy | None, seconds: float) -> dict[str, object]:
    started = time.monotonic()
    served.server.process.terminate()
    status = await asyncio.to_thread(served.server.process.wait, seconds + 60)
    return {"exit status": status, "exit after s": round(time.monotonic() - started, 2)}


FAULTS: dict[str, list[tuple[str, Fault]]] = {
    "postgresql": [("restart", restart), ("stopped", stopped), ("stalled", stalled), ("locked", pg_locked), ("shutdown", shutdown)],
    "sqlite": [("locked", sqlite_locked), ("shutdown", shutdown)],
}  # fmt: skip


@asynccontextmanager
async def served_with(
    backend: str, directory: Path, proxied: bool
) -> AsyncIterator[tuple[Served, TcpProxy | None]]:
    if not proxied:
        async with serving(backend, directory, environment=SERVER_SETTINGS) as served:
            yield served, None
        return
    target = make_url(POSTGRES_ADMIN_DSN)
    async with (
        tcp_proxy(target.host or "127.0.0.1", target.port or 5432) as proxy,
        serving(backend, directory, proxy=proxy, environment=SERVER_SETTINGS) as served,
    ):
        yield served, proxy


async def stored_titles(database_url: str, titles: set[str]) -> Counter[str]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(Difficulty.title, func.count())
                .where(Difficulty.title.like("fault-%"))
                .group_by(Difficulty.title)
            )
            return Counter({title: count for title, count in rows if title in titles})
    finally:
        await engine.dispose()


async def run_fault(
    backend: str, clients: int, name: str, fault: Fault, seconds: float
) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as directory:
        async with served_with(
            backend, Path(directory), proxied=name in ("restart", "stopped", "stalled")
        ) as (served, proxy):
            token = served.issuer.issue(REPORTER, 3600)
            committee_id = (await served.post(CONGRESS, c="X00004-001")).json()["data"][
                "committee"
            ]["id"]
            tally = Tally()
            stop = asyncio.Event()
            writers = clients // 3
            load = [
                asyncio.create_task(writer(served, token, committee_id, tally, stop))
                for _ in range(writers)
            ]
            load += [
                asyncio.create_task(reader(served, token, tally, stop))
                for _ in range(clients - writers)
            ]
            await asyncio.sleep(WARM_SECONDS)
            with probing(served, token) as probes:
                tally.stopping = name == "shutdown"
                extra = await fault(served, proxy, seconds)
            back_after = (
                float("nan") if name == "shutdown" else await first_read_after(served, token)
            )
            await asyncio.sleep(AFTER_SECONDS)
            stop.set()
            with suppress(asyncio.CancelledError):
                await asyncio.wait_for(asyncio.gather(*load), timeout=120)
            everything = tally.acknowledged | tally.reported_unrecorded
            stored = await stored_titles(served.database_url, everything)
    # Through shutdown, the probes after the server stopped listening are not answers.
    answered = [ms for ms, status in probes if status != 0 or name != "shutdown"]
    p99 = statistics.quantiles(answered, n=100)[98] if len(answered) >= 2 else float("nan")
    return {
        "backend": backend,
        "clients": clients,
        "fault": name,
        "requests": sum(tally.answers.values()),
        **{
            kind: tally.answers.get(kind, 0)
            for kind in (
                "ok",
                "HTTP 200",
                "HTTP 503",
                "plain text",
                "dropped",
                "refused while stopping",
            )
        },
        "codes": dict(tally.codes.most_common()),
        "acknowledged": len(tally.acknowledged),
        "unsettled": len(tally.unsettled),
        "lost": len(tally.acknowledged - set(stored)),
        "duplicated": sum(1 for count in stored.values() if count > 1),
        "misreported": len(tally.reported_unrecorded & set(stored)),
        "typename p99 ms": round(p99, 1),
        "typename not 200": sum(1 for _ms, status in probes if status != 200),
        "back after s": round(back_after, 2),
        **extra,
    }


async def main(backends: list[str], client_counts: list[int], seconds: float) -> None:
    print(f"goals: {GOALS}")
    for backend in backends:
        for clients in client_counts:
            for name, fault in FAULTS[backend]:
                result = await run_fault(backend, clients, name, fault, seconds)
                print(", ".join(f"{key} {value}" for key, value in result.items()), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--clients", default="20,60")
    parser.add_argument("--fault-seconds", type=float, default=30.0)
    arguments = parser.parse_args()
    asyncio.run(
        main(
            arguments.backends.split(","),
            [int(count) for count in arguments.clients.split(",")],
            arguments.fault_seconds,
        )
    )
