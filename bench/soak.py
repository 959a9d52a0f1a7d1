"""A long replay of every README query, with client errors among them, against one worker.

    python -m bench.soak [--backend sqlite|postgresql] [--requests 20000] [--concurrency 8]

Five demo users at four levels (centre, province, commune, cell) send the README's queries
and the failures a client makes (wrong arguments, ids outside scope, unparsable documents,
fields failing together, non-null root fields among them), interleaved. Every request must
be answered with JSON and no 5xx, the worker must live to the end, and its memory must stay
flat. Prints what came back and the resident memory along the way; exits 1 on a miss. The
server runs with rate limits off (CONGRESS_RATE_LIMITS=off): five users sending thousands
of requests a minute is what they refuse, and this replay is about the worker.

`tests/test_soak.py` runs the same replay, shorter, in the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.progress_server import (
    Server,
    resident_memory_mib,
    start_server,
    stop_server,
    wait_until_ready,
)
from config import Settings
from models.database import create_engine
from models.demo import build_demo
from models.migrate import upgrade_database
from permissions.tokens import LocalIssuer
from tests.databases import BACKENDS, throwaway_database

README = Path(__file__).resolve().parent.parent / "README.md"
# Centre admin, province viewer, commune reporter and admin, cell viewer (models/demo.py).
SOAK_SUBJECTS = ("001090000003", "001090000004", "001090000008", "001090000009", "001090000010")
# Resident memory may grow this much from the first tenth of the run to its end.
FLAT_MEMORY_MIB = 40.0
REQUEST_TIMEOUT_SECONDS = 30.0
# What the server is started with: the replay sends far more than a person's quota.
WITHOUT_RATE_LIMITS = {"CONGRESS_RATE_LIMITS": "off", "CONGRESS_FAILED_AUTH_PER_MINUTE": "0"}


@dataclass(frozen=True, slots=True)
class Document:
    name: str
    query: str
    variables: dict[str, Any] = field(default_factory=dict)


def readme_queries() -> list[Document]:
    """Every ```graphql block of the README that is a query (mutations would write)."""
    blocks = re.findall(r"```graphql\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    documents = []
    for number, block in enumerate(blocks):
        if block.lstrip().startswith("mutation"):
            continue
        variables = {"hanoi": "Q29tbWl0dGVlOjI=", "after": None} if "$hanoi" in block else {}
        documents.append(Document(f"readme-{number}", block, variables))
    return documents


# Root fields that answer, fail while nullable, or fail while non-null, in any order.
_ROOT_FIELDS = {
    "good": 'good: committee(code: "X00004") { code congress { status } }',
    "nullable_fails": 'bad: committee(code: "T01") { code children(first: -1) { totalCount } }',
    "non_null_fails": 'under: overdueCongresses(under: "bm9wZTox", first: 2) { totalCount }',
    "items_fail": "items: committees(first: 3) { nodes { code children(first: 101) { totalCount } } }",
    "batched": "batch: committees(first: 5) { nodes { parent { code } congress { status } } }",
}


def failing_families() -> list[Document]:
    """The root fields above in every order of three: failures meet pending batched loads."""
    documents = []
    for names in itertools.permutations(_ROOT_FIELDS, 3):
        body = " ".join(_ROOT_FIELDS[name] for name in names)
        documents.append(Document("family:" + ",".join(names), "{ " + body + " }"))
    return documents


CLIENT_MISTAKES = [
    Document("parse-error", "{ committee(code: "),
    Document("unknown-field", '{ committee(code: "T01") { nothing } }'),
    Document("page-too-big", "{ committees(first: 1000) { totalCount } }"),
    Document("negative-page", '{ committee(code: "T01") { children(first: -1) { totalCount } } }'),
    Document("missing-node", '{ node(id: "bm9wZTox") { id } }'),
    Document("outside-scope", '{ committee(code: "T79") { code name } }'),
    Document("bad-cursor", '{ committees(first: 2, after: "garbage") { totalCount } }'),
    Document(
        "wrong-variable-type",
        "query($n: Int) { committees(first: $n) { totalCount } }",
        {"n": "many"},
    ),
]


def soak_documents() -> list[Document]:
    return [*readme_queries(), *failing_families(), *CLIENT_MISTAKES]


@dataclass
class SoakReport:
    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    not_json: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    memory_mib: list[float] = field(default_factory=list)

    @property
    def memory_growth_mib(self) -> float:
        if len(self.memory_mib) < 2:
            return 0.0
        return self.memory_mib[-1] - self.memory_mib[0]

    def misses(self, server_alive: bool) -> list[str]:
        found = []
        if self.not_json:
            found.append(f"{len(self.not_json)} answers were not JSON: {self.not_json[:3]}")
        if self.server_errors:
            found.append(f"{len(self.server_errors)} 5xx answers: {self.server_errors[:3]}")
        if self.dropped:
            found.append(f"{len(self.dropped)} requests got no answer: {self.dropped[:3]}")
        if not server_alive:
            found.append("the worker died")
        if self.memory_growth_mib > FLAT_MEMORY_MIB:
            found.append(f"memory grew {self.memory_growth_mib:.0f} MiB")
        return found


async def replay(server: Server, tokens: list[str], requests: int, concurrency: int) -> SoakReport:
    """Send `requests` requests, `concurrency` at a time, cycling users and documents."""
    report = SoakReport()
    documents = soak_documents()
    plan: Iterator[tuple[str, Document]] = zip(
        itertools.cycle(tokens), itertools.cycle(documents), strict=False
    )
    samples_every = max(requests // 20, 1)

    async def one(client: httpx.AsyncClient, token: str, document: Document) -> None:
        body = {"query": document.query, "variables": document.variables}
        try:
            response = await client.post(
                server.graphql_url, json=body, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.TransportError as error:
            report.dropped.append(f"{document.name}: {type(error).__name__}")
            return
        report.by_status[response.status_code] += 1
        try:
            json.loads(response.content)
        except ValueError:
            report.not_json.append(f"{document.name}: {response.text[:80]!r}")
        if response.status_code >= 500:
            report.server_errors.append(f"{document.name}: {response.text[:200]}")

    async def worker(client: httpx.AsyncClient) -> None:
        for token, document in plan:
            if report.requests >= requests:
                return
            report.requests += 1
            if report.requests % samples_every == 0 and server.process.poll() is None:
                report.memory_mib.append(resident_memory_mib(server.process.pid))
            await one(client, token, document)

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_SECONDS, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return report


def tokens_for(settings: Settings) -> list[str]:
    issuer = LocalIssuer.load_or_create(settings.signing_key_path)
    return [issuer.issue(subject, 24 * 3600) for subject in SOAK_SUBJECTS]


async def build_database(database_url: str, cells_per_commune: int) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade_database(engine)
        await build_demo(engine, cells_per_commune=cells_per_commune)
    finally:
        await engine.dispose()


async def run(backend: str, requests: int, concurrency: int, cells: int) -> int:
    with tempfile.TemporaryDirectory(prefix="congress-soak-") as directory:
        data_dir = Path(directory)
        async with throwaway_database(backend, data_dir) as database_url:
            await build_database(database_url, cells)
            settings = Settings(data_dir=data_dir, database_url=database_url)
            os.environ.update(WITHOUT_RATE_LIMITS)
            server = start_server(database_url, data_dir)
            try:
                await wait_until_ready(server)
                report = await replay(server, tokens_for(settings), requests, concurrency)
                alive = server.process.poll() is None
            finally:
                stop_server(server)
            print(f"{backend}: {report.requests:,} requests, by status {dict(report.by_status)}")
            print(
                "  resident MiB along the run: " + " ".join(f"{m:.0f}" for m in report.memory_mib)
            )
            misses = report.misses(alive)
            for miss in misses:
                print(f"  MISS: {miss}")
            if not misses:
                print("  every request answered with JSON, no 5xx, the worker alive, memory flat")
            return 1 if misses else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=BACKENDS, default="sqlite")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--cells-per-commune", type=int, default=2)
    arguments = parser.parse_args()
    sys.exit(
        asyncio.run(
            run(
                arguments.backend,
                arguments.requests,
                arguments.concurrency,
                arguments.cells_per_commune,
            )
        )
    )


if __name__ == "__main__":
    main()
