"""The garbage collector set for a serving worker, once its app is built.

Every request leaves its objects in reference cycles that only the collector frees
(graphql-core's execution context, SQLAlchemy's session and strawberry's per-request
objects refer to each other). With CPython's thresholds the collector ran every 700
allocations, and each full collection walked the ~160,000 objects a warm worker holds
(modules, the schema, the catalogs, the caches), which are never garbage.
`python -m bench.garbage` measures both and what the collector costs per request, with
CPython's thresholds and with these (README, "Measured").

A full collection walks every long-lived object that was not frozen at startup, and a
worker holding websockets holds many (about 140 for each idle subscriber: its protocol,
transport, handler, tasks and coroutines). CPython starts one whenever a quarter more
objects have survived into the oldest generation: with 2,500 subscribers a worker, that
stopped the event loop for 150-750 ms several times a minute, and those pauses were the
live deliveries' latency tail (bench/live.py). So the oldest generation is collected
only by `OldGarbage`: when the worker's memory has grown by a set amount over its lowest
point since the last full collection, and at least every OLD_GARBAGE_MAX_SECONDS.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

from graph.observability.metrics import full_collection_seconds

logger = logging.getLogger("congress.gc")

# Allocations between two collections of the youngest generation (CPython's default: 700):
# a few dozen requests' worth of cyclic garbage waits that long.
YOUNG_GENERATION_THRESHOLD = 10_000
# Collections of the youngest generation between two of the middle one (CPython's
# default: 10). Shorter: the objects of a long query survive a few young collections
# before they die, and only a collection of their own generation frees them; with 10,
# bench/progress.py's nested pages raised a worker's peak memory to 331 MiB.
OLDER_GENERATION_THRESHOLD = 5
# Collections of the middle generation before CPython would start a full one by itself:
# never, in practice (a billion); OldGarbage starts them.
OLDEST_GENERATION_THRESHOLD = 1_000_000_000
# How often a serving worker looks at its memory.
OLD_GARBAGE_CHECK_SECONDS = 1.0
# Longest between two full collections, whatever the memory: freed garbage is mostly kept
# by the allocator for reuse rather than given back, so memory alone could let garbage
# refill it unseen; this bounds what piles up to what the worker makes in this long.
OLD_GARBAGE_MAX_SECONDS = 600.0

_PAGE_BYTES = resource.getpagesize()
_STATM = Path("/proc/self/statm")


def tune_for_serving(old_garbage_bytes: int) -> OldGarbage:
    """Leave what exists now out of every later collection and collect the young
    generations less often; the oldest is collected by the OldGarbage returned, which the
    worker must run (the app's lifespan does)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(
        YOUNG_GENERATION_THRESHOLD, OLDER_GENERATION_THRESHOLD, OLDEST_GENERATION_THRESHOLD
    )
    return OldGarbage(old_garbage_bytes)


def resident_bytes() -> int:
    """This process's resident memory now (Linux); elsewhere its peak, which only grows
    (then OLD_GARBAGE_MAX_SECONDS is what bounds the garbage)."""
    try:
        return int(_STATM.read_text().split()[1]) * _PAGE_BYTES
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024  # bytes there, KiB here


class OldGarbage:
    """Runs a full collection once the process's resident memory has grown by
    `budget_bytes` over its lowest point since the last one, or `max_seconds` after the
    last one, whichever comes first."""

    def __init__(
        self,
        budget_bytes: int,
        resident: Callable[[], int] = resident_bytes,
        *,
        max_seconds: float = OLD_GARBAGE_MAX_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._budget_bytes = budget_bytes
        self._resident = resident
        self._max_seconds = max_seconds
        self._clock = clock
        self._lowest = resident()
        self._last = clock()

    def check(self) -> bool:
        """Collect if the budget is spent or the time is up; whether it did."""
        now = self._resident()
        self._lowest = min(self._lowest, now)
        grown = now - self._lowest
        if grown < self._budget_bytes and self._clock() - self._last < self._max_seconds:
            return False
        started = time.perf_counter()
        collected = gc.collect()
        took = time.perf_counter() - started
        full_collection_seconds.observe(took)
        self._lowest = self._resident()
        self._last = self._clock()
        logger.info(
            "full garbage collection after %.0f MiB of growth: %d objects freed in %.0f ms",
            grown / 2**20,
            collected,
            took * 1000,
        )
        return True

    async def run(self, interval_seconds: float = OLD_GARBAGE_CHECK_SECONDS) -> None:
        """Check every `interval_seconds` until cancelled."""
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                self.check()
            except Exception:  # the next check tries again; the worker serves on
                logger.exception("a full garbage collection failed")
