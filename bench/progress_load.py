"""A fixed number of clients sending GraphQL requests for a fixed time: rate and latencies."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

REQUEST_TIMEOUT_SECONDS = 120.0


class Exhausted(Exception):
    """A request source has nothing left to send (writes run out of fresh congresses)."""


class BadAnswer(Exception):
    """The server answered, but not what the request should get."""


# One request: send it, check the answer (raise BadAnswer), return nothing.
Request = Callable[[httpx.AsyncClient], Awaitable[None]]


@dataclass(slots=True)
class LoadResult:
    completed: int
    failed: int
    seconds: float
    latencies: list[float]
    server_cpu_seconds: float
    first_failure: str | None = None

    @property
    def per_second(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies) * 1000 if self.latencies else float("nan")

    @property
    def p95_ms(self) -> float:
        if len(self.latencies) < 2:
            return self.median_ms
        return statistics.quantiles(self.latencies, n=20)[18] * 1000

    @property
    def server_ms_per_request(self) -> float:
        """Server CPU per answered request: its cost, whatever the client's share of the
        machine (client and server share two cores)."""
        return self.server_cpu_seconds / self.completed * 1000 if self.completed else float("nan")


@dataclass(slots=True)
class _Tally:
    latencies: list[float] = field(default_factory=list)
    failed: int = 0
    first_failure: str | None = None


async def run_load(
    client: httpx.AsyncClient,
    request: Request,
    *,
    concurrency: int,
    seconds: float,
    server_cpu: Callable[[], float],
) -> LoadResult:
    """`concurrency` clients send `request` back to back until `seconds` have passed."""
    tally = _Tally()
    started = time.perf_counter()
    deadline = started + seconds
    cpu_before = server_cpu()

    async def one_client() -> None:
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            try:
                await request(client)
            except Exhausted:
                return
            except (BadAnswer, httpx.HTTPError) as error:
                tally.failed += 1
                tally.first_failure = tally.first_failure or f"{type(error).__name__}: {error}"
                continue
            tally.latencies.append(time.perf_counter() - sent)

    await asyncio.gather(*(one_client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return LoadResult(
        completed=len(tally.latencies),
        failed=tally.failed,
        seconds=elapsed,
        latencies=tally.latencies,
        server_cpu_seconds=server_cpu() - cpu_before,
        first_failure=tally.first_failure,
    )


def combined(results: Sequence[LoadResult]) -> LoadResult:
    """Several runs of one request as if they were one run."""
    return LoadResult(
        completed=sum(result.completed for result in results),
        failed=sum(result.failed for result in results),
        seconds=sum(result.seconds for result in results),
        latencies=[latency for result in results for latency in result.latencies],
        server_cpu_seconds=sum(result.server_cpu_seconds for result in results),
        first_failure=next((r.first_failure for r in results if r.first_failure), None),
    )


async def run_interleaved(
    client: httpx.AsyncClient,
    requests: Mapping[str, Request],
    *,
    concurrency: int,
    seconds: float,
    turn_seconds: float,
    server_cpu: Callable[[], float],
) -> dict[str, LoadResult]:
    """Each request for `seconds` in all, taking turns of `turn_seconds`, so that requests
    compared with each other run under the same conditions: this machine's speed drifts
    by a fifth from one minute to the next, which back-to-back runs would count as a
    difference between the requests."""
    turns: dict[str, list[LoadResult]] = {name: [] for name in requests}
    remaining = seconds
    while remaining > 0:
        turn = min(turn_seconds, remaining)
        for name, request in requests.items():
            turns[name].append(
                await run_load(
                    client, request, concurrency=concurrency, seconds=turn, server_cpu=server_cpu
                )
            )
        remaining -= turn
    return {name: combined(results) for name, results in turns.items()}


async def post_graphql(
    client: httpx.AsyncClient,
    url: str,
    token: str,
    query: str,
    variables: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The `data` of a GraphQL answer; any error in it is a BadAnswer."""
    response = await client.post(
        url,
        json={"query": query, "variables": dict(variables or {})},
        headers={"Authorization": f"Bearer {token}"},
    )
    if response.status_code != 200:
        raise BadAnswer(f"HTTP {response.status_code}: {response.text[:300]}")
    body = response.json()
    if body.get("errors") or not isinstance(body.get("data"), dict):
        raise BadAnswer(str(body.get("errors"))[:300])
    data: dict[str, Any] = body["data"]
    return data


def client_for(concurrency: int) -> httpx.AsyncClient:
    """Keep-alive connections, one per concurrent client."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT_SECONDS)
