"""The garbage collector set for a serving worker, once its app is built.

Every request leaves its objects in reference cycles that only the collector frees
(graphql-core's execution context, SQLAlchemy's session and strawberry's per-request
objects refer to each other): 57 cyclic objects after `{ __typename }`, 135 after a
progress summary. With CPython's defaults the collector ran every 700 allocations, and
each full collection walked the ~130,000 objects startup made (modules, the schema, the
catalogs), which are never garbage: under a load of summaries, collections took a tenth
of the worker's time, 70 ms for each full one. Measured with gc.callbacks in a worker
under bench/progress.py's load; the README has the figures.
"""

from __future__ import annotations

import gc

# Allocations between two collections of the youngest generation (CPython's default: 700).
# A few dozen requests' worth of cyclic garbage, a few MB at most, waits that long.
YOUNG_GENERATION_THRESHOLD = 10_000


def tune_for_serving() -> None:
    """Leave what exists now out of every later collection, and collect less often."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)
