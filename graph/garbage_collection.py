"""The garbage collector set for a serving worker, once its app is built.

Every request leaves its objects in reference cycles that only the collector frees
(graphql-core's execution context, SQLAlchemy's session and strawberry's per-request
objects refer to each other). With CPython's thresholds the collector ran every 700
allocations, and each full collection walked the ~160,000 objects a warm worker holds
(modules, the schema, the catalogs, the caches), which are never garbage.
`python -m bench.garbage` measures both and what the collector costs per request, with
CPython's thresholds and with these (README, "Measured")."""

from __future__ import annotations

import gc

# Allocations between two collections of the youngest generation (CPython's default: 700):
# a few dozen requests' worth of cyclic garbage waits that long.
YOUNG_GENERATION_THRESHOLD = 10_000
# Collections of a generation between two of the next older one (CPython's default: 10).
# Shorter: the objects of a long query survive a few young collections before they die,
# and only a collection of their own generation frees them; with 10, bench/progress.py's
# nested pages raised a worker's peak memory to 331 MiB. With startup frozen, an older
# collection walks only what requests and caches hold.
OLDER_GENERATION_THRESHOLD = 5


def tune_for_serving() -> None:
    """Leave what exists now out of every later collection, and collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(
        YOUNG_GENERATION_THRESHOLD, OLDER_GENERATION_THRESHOLD, OLDER_GENERATION_THRESHOLD
    )
