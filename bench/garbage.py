"""What the garbage collector costs a worker, with CPython's settings and with ours.

Run: .venv/bin/python -m bench.garbage [--requests 400] [--concurrency 8]

Builds the demo (SQLite, default size) in a temporary directory, builds the app in this
process as a worker does, and sends requests through it in process (no sockets: the
collector's share is what is measured, not the server's rate). It prints the objects the
collector tracks once the app is built and what one full collection of them takes, the
objects each kind of request leaves in reference cycles (freed only by the collector),
and the collector's time per request under each load with CPython's thresholds and after
`graph.garbage_collection.tune_for_serving` (with OldGarbage watching, as in a worker),
with the process's resident memory after each.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx

from bench.progress import NESTED_PLAIN, SUMMARY, TYPENAME
from config import Settings
from graph.app import create_app
from graph.garbage_collection import resident_bytes, tune_for_serving
from graph.observability.metrics import full_collection_seconds
from models.demo import CENTRAL_CODE, demo_users
from models.users import Role
from permissions.tokens import LocalIssuer

Body = dict[str, Any]
LOADS: dict[str, Body] = {
    "typename": {"query": TYPENAME},
    "summary": {"query": SUMMARY, "variables": {"code": CENTRAL_CODE}},
    "nested page": {"query": NESTED_PLAIN},
}


class CollectorClock:
    """The collector's time while it is installed (gc.callbacks)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started


async def cyclic_objects_per_request(send: Callable[[], Any], requests: int) -> float:
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(requests):
            await send()
        gc.collect()
        return len(gc.garbage) / requests
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


async def collector_ms_per_request(send: Callable[[], Any], requests: int, clients: int) -> float:
    clock = CollectorClock()

    async def client() -> None:
        for _ in range(requests // clients):
            await send()

    gc.callbacks.append(clock)
    try:
        await asyncio.gather(*(client() for _ in range(clients)))
    finally:
        gc.callbacks.remove(clock)
    return clock.seconds * 1000 / (requests // clients * clients)


async def measure(data_dir: Path, requests: int, clients: int) -> None:
    # Rate limits off: hundreds of requests a second from one user are the load here.
    settings = Settings(data_dir=data_dir, rate_limits=(), failed_auth_per_minute=0)
    admin = next(
        u for u in demo_users() if u.committee_code == CENTRAL_CODE and u.role is Role.ADMIN
    )
    token = LocalIssuer.load_or_create(settings.signing_key_path).issue(admin.subject, 3600)
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http,
    ):

        def sender(body: Body) -> Callable[[], Any]:
            async def send() -> None:
                response = await http.post(
                    "/graphql", json=body, headers={"Authorization": f"Bearer {token}"}
                )
                if response.status_code != 200 or "errors" in response.json():
                    raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

            return send

        for body in LOADS.values():  # warm: caches filled, statements prepared
            for _ in range(20):
                await sender(body)()
        gc.collect()
        tracked = len(gc.get_objects())
        started = time.perf_counter()
        gc.collect()
        print(f"objects tracked once warm: {tracked:,}; a full collection "
              f"{(time.perf_counter() - started) * 1000:.0f} ms")  # fmt: skip
        for name, body in LOADS.items():
            cyclic = await cyclic_objects_per_request(sender(body), min(requests, 100))
            print(f"{name:<12} leaves {cyclic:,.0f} objects in reference cycles per request")
        for setting in ("CPython's thresholds", "tune_for_serving"):
            watching = None
            if setting == "tune_for_serving":
                old_garbage = tune_for_serving(settings.old_garbage_mib * 2**20)
                # As a serving worker's lifespan runs it (graph/app.py).
                watching = asyncio.create_task(old_garbage.run())
            print(f"{setting} {gc.get_threshold()}, {gc.get_freeze_count():,} frozen:")
            full_before = full_collection_seconds.count()
            for name, body in LOADS.items():
                count = requests if name != "nested page" else max(clients, requests // 20)
                spent = await collector_ms_per_request(sender(body), count, clients)
                print(f"  {name:<12} collector {spent:.3f} ms per request")
            if watching is not None:
                watching.cancel()
                with suppress(asyncio.CancelledError):
                    await watching
                print(
                    f"  full collections by OldGarbage: "
                    f"{full_collection_seconds.count() - full_before}"
                )
            print(f"  resident memory after: {resident_bytes() / 2**20:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        data_dir = Path(directory)
        subprocess.run(
            [sys.executable, "-m", "cli", "--data-dir", str(data_dir), "demo"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        asyncio.run(measure(data_dir, arguments.requests, arguments.concurrency))


if __name__ == "__main__":
    main()
