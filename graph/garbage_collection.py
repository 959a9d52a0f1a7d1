"""The garbage collector set for a serving worker, once its app is built.

Every request leaves its objects in reference cycles that only the collector frees
(graphql-core's execution context, SQLAlchemy's session and strawberry's per-request
objects refer to each other): 57 cyclic objects after `{ __typename }`, 135 after a
progress summary. With CPython's defaults the collector ran every 700 allocations, and
each full collection walked the ~130,000 objects startup made (modules, the schema, the
catalogs), which are never garbage. Timed with gc.callbacks in a worker under the loads
of bench/progress.py (an ad hoc harness, not committed): collections took more than half
of the worker's time under nested pages and writes, and a tenth under summaries.
"""

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
