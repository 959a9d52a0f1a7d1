"""Issue 14's probes, replayed as an attacker with a valid token would send them.

    python -m bench.abuse [--backend sqlite|postgresql] [--cells-per-commune 2]

Serves a fresh demo in production mode (`congress serve`, one worker, the local issuer
kept on for the tokens) and sends each probe as a viewer at a grassroots cell. While a
probe is being answered, another official (a province viewer) sends a `{ __typename }`
beside it 50 ms in, and its wait is timed. The last two probes are floods: 3,000
`{ __typename }` of the cell viewer at 150 a second, and 3,000 bad tokens at 200 a second
(their answers are tallied by status). Printed per probe: the HTTP status and `extensions.code` of the answer, the server
CPU the probe cost, and how long `{ __typename }` waited (goal: the probes refused, each
costing and delaying under 100 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.progress_server import (
    cpu_seconds,
    start_server,
    stop_server,
    wait_until_ready,
)
from bench.soak import build_database
from config import Settings
from permissions.tokens import LocalIssuer
from tests.databases import BACKENDS, throwaway_database

CELL_VIEWER = "001090000010"  # a viewer at the demo's grassroots cell X00004-001
# Another official, who sends the `{ __typename }` beside each probe: what the probes must
# not take a worker from.
BYSTANDER = "001090000004"  # the viewer at the province T01
FLOOD_REQUESTS = 3_000
TOKEN_SECONDS = 3600
BESIDE_AFTER_SECONDS = 0.05
REQUEST_TIMEOUT_SECONDS = 120.0

Probe = Callable[[httpx.AsyncClient, str, str], Coroutine[Any, Any, httpx.Response]]


def graphql(body: bytes | str, content_type: str = "application/json") -> Probe:
    async def send(client: httpx.AsyncClient, url: str, token: str) -> httpx.Response:
        return await client.post(
            url,
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        )

    return send


def declared_body(size: int) -> Probe:
    """Headers announcing a `size`-byte body, then only 64 KB of it: the answer must come
    before the rest is sent (a server reading bodies whole would wait for ever)."""

    async def send(client: httpx.AsyncClient, url: str, token: str) -> httpx.Response:
        address = httpx.URL(url)
        reader, writer = await asyncio.open_connection(address.host, address.port)
        try:
            writer.write(
                f"POST {address.raw_path.decode()} HTTP/1.1\r\nHost: {address.host}\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {size}\r\n\r\n".encode()
                + b'{"query": "{ __typename }", "x": "'
                + b"x" * 65_536
            )
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split()[1])
            length = next(
                int(line.split(b":")[1])
                for line in head.lower().split(b"\r\n")
                if line.startswith(b"content-length:")
            )
            return httpx.Response(status, content=await reader.readexactly(length))
        finally:
            writer.close()

    return send


def flood(per_second: float, *, bad_token: bool) -> Probe:
    """FLOOD_REQUESTS `{ __typename }` sent at `per_second`, as the viewer or with a bad
    token; answers the last response, with a tally of the statuses in its extensions."""

    async def send(client: httpx.AsyncClient, url: str, token: str) -> httpx.Response:
        sent = token if not bad_token else token[:-8] + "AAAAAAAA"
        headers = {"Authorization": f"Bearer {sent}", "Content-Type": "application/json"}
        body = b'{"query": "{ __typename }"}'
        started = time.perf_counter()
        requests = []
        for number in range(FLOOD_REQUESTS):
            await asyncio.sleep(max(0.0, started + number / per_second - time.perf_counter()))
            requests.append(asyncio.create_task(client.post(url, content=body, headers=headers)))
        responses = await asyncio.gather(*requests)
        tally: dict[int, int] = {}
        for response in responses:
            tally[response.status_code] = tally.get(response.status_code, 0) + 1
        last = responses[-1]
        described = ", ".join(f"{count:,} × {status}" for status, count in sorted(tally.items()))
        return httpx.Response(
            last.status_code, content=last.content, extensions={"tally": described}
        )

    return send


def query(document: str, variables: dict[str, object] | None = None) -> Probe:
    return graphql(json.dumps({"query": document, "variables": variables or {}}))


def aliases(count: int, field: str) -> str:
    return "{ " + " ".join(f"a{number}: {field}" for number in range(count)) + " }"


def probes() -> dict[str, Probe]:
    summary = 'committee(code: "X00004-001") { progress { total congressesHeld } }'
    timeline = 'committee(code: "X00004-001") { progress { timeline(interval: DAY) { date congressesHeld } } }'  # fmt: skip
    write = (
        'recordMilestone(input: {committeeId: "Q29tbWl0dGVlOjE=", milestone: "plan_issued", '
        "status: DONE}) { __typename }"
    )
    huge_id = base64.b64encode(b"Committee:99999999999999999999").decode()
    return {
        "10,000 aliases of a summary (679 KB)": query(aliases(10_000, summary)),
        "250 aliases of a summary (under the length limit)": query(aliases(250, summary)),
        "1,000 aliases of a daily timeline": query(aliases(1_000, timeline)),
        "30 aliases of a daily timeline": query(aliases(30, timeline)),
        "1,000 aliases of __schema types fields": query(
            aliases(1_000, "__schema { types { fields { name } } }")
        ),
        "60 aliases of __schema types fields": query(
            aliases(60, "__schema { types { name fields { name args { name } } } }")
        ),
        "a 100 MB body": declared_body(100_000_000),
        "600 aliased recordMilestone": query("mutation " + aliases(600, write)),
        "21 aliased recordMilestone": query("mutation " + aliases(21, write)),
        "1,000 root fields in a mutation": query("mutation " + aliases(1_000, "__typename")),
        "a variable of the wrong type": query(
            "query($n: Int) { committees(first: $n) { totalCount } }", {"n": "many"}
        ),
        "a missing required variable": query("query($id: ID!) { node(id: $id) { id } }"),
        "a 50,000-character search": query(
            "query($s: String) { committees(search: $s) { totalCount } }", {"s": "a" * 50_000}
        ),
        "a lone surrogate": graphql(
            '{"query": "query($s: String) { committees(search: $s) { totalCount } }", '
            '"variables": {"s": "\\ud800"}}'
        ),
        "a global id >= 2^63": query("query($id: ID!) { node(id: $id) { id } }", {"id": huge_id}),
        "invalid UTF-8": graphql(b'{"query": "{ \xff\xfe }"}'),
        'a body of "x"': graphql('"x"'),
        "JSON nested 100,000 deep": graphql("[" * 100_000 + "]" * 100_000),
        "3,000 requests from one user at 150/s": flood(150, bad_token=False),
        "3,000 bad tokens at 200/s": flood(200, bad_token=True),
    }


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int
    code: str
    cpu_ms: float
    beside_ms: float


def code_of(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"not JSON: {response.text[:40]!r}"
    tally = response.extensions.get("tally")
    if isinstance(body, dict) and body.get("errors"):
        code = str(body["errors"][0].get("extensions", {}).get("code", "-"))
    else:
        code = "data"
    return f"{code} (answers: {tally})" if tally else code


async def replay(url: str, token: str, bystander: str, pid: int, probe: Probe) -> Outcome:
    limits = httpx.Limits(max_connections=50)
    async with (
        httpx.AsyncClient(timeout=REQUEST_TIMEOUT_SECONDS, limits=limits) as client,
        httpx.AsyncClient(timeout=REQUEST_TIMEOUT_SECONDS) as beside,
    ):
        typename = query("{ __typename }")
        await typename(beside, url, bystander)  # a warm connection for the one beside
        before = cpu_seconds(pid)
        sent = asyncio.create_task(probe(client, url, token))
        await asyncio.sleep(BESIDE_AFTER_SECONDS)
        started = time.perf_counter()
        await typename(beside, url, bystander)
        beside_ms = (time.perf_counter() - started) * 1000
        response = await sent
        cpu_ms = (cpu_seconds(pid) - before) * 1000
        return Outcome(response.status_code, code_of(response), cpu_ms, beside_ms)


async def run(backend: str, cells: int) -> None:
    with tempfile.TemporaryDirectory(prefix="congress-abuse-") as directory:
        data_dir = Path(directory)
        async with throwaway_database(backend, data_dir) as database_url:
            await build_database(database_url, cells)
            os.environ.update({"CONGRESS_ENV": "production", "CONGRESS_LOCAL_ISSUER": "1"})
            server = start_server(database_url, data_dir)
            try:
                await wait_until_ready(server)
                settings = Settings(data_dir=data_dir, database_url=database_url)
                issuer = LocalIssuer.load_or_create(settings.signing_key_path)
                token = issuer.issue(CELL_VIEWER, TOKEN_SECONDS)
                bystander = issuer.issue(BYSTANDER, TOKEN_SECONDS)
                print(f"## {backend}, production mode, one worker")
                print("| probe | HTTP | code | server CPU ms | `{ __typename }` beside, ms |")
                print("|---|---:|---|---:|---:|")
                for name, probe in probes().items():
                    outcome = await replay(
                        server.graphql_url, token, bystander, server.process.pid, probe
                    )
                    print(
                        f"| {name} | {outcome.status} | {outcome.code} | "
                        f"{outcome.cpu_ms:.0f} | {outcome.beside_ms:.0f} |"
                    )
            finally:
                stop_server(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=BACKENDS, default="sqlite")
    parser.add_argument("--cells-per-commune", type=int, default=2)
    arguments = parser.parse_args()
    asyncio.run(run(arguments.backend, arguments.cells_per_commune))
    sys.exit(0)


if __name__ == "__main__":
    main()
