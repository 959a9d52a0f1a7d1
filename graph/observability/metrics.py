"""The API's own metrics, per worker process, and the calls the rest of the code makes to
feed them: `observe_cost`, `count_refusal`, `record_write_retry`, `record_graphql_errors`,
`record_redis_failure`.

Those calls need no request object: while `AccessLogMiddleware` serves a request it keeps a
`RequestRecord` in a context variable, which graphql-core's tasks inherit, so a cost or a
refusal noted deep in the schema lands on the right request's log line and outcome.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass

from graph.observability.exposition import BoundedLabel, Counter, Histogram, Registry

# Operation names are chosen by clients: the first 200 distinct ones keep their own series,
# later ones share "(other)". Parenthesised names cannot collide with a GraphQL name.
MAX_OPERATION_NAMES = 200
OTHER_OPERATION = "(other)"
# Seconds; a request is ended at CONGRESS_REQUEST_TIMEOUT_SECONDS (10 s by default).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Cost units of graph/schema/cost.py; the default limit (CONGRESS_MAX_QUERY_COST) is 50,000.
COST_BUCKETS = (10, 50, 100, 500, 1_000, 5_000, 10_000, 25_000, 50_000, 100_000)
OUTCOME_OK = "ok"
OUTCOME_ERROR = "error"
REFUSED_PREFIX = "refused_"
# Refusal kinds come from our code, not clients; still, a malformed one must not reach a label.
_REFUSAL_KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")

REGISTRY = Registry()
operation_label = BoundedLabel(MAX_OPERATION_NAMES, OTHER_OPERATION)
graphql_requests = REGISTRY.add(
    Counter(
        "congress_graphql_requests_total",
        "GraphQL requests by operation name and outcome (ok, error, refused_<kind>).",
        ("operation", "outcome"),
    )
)
graphql_duration = REGISTRY.add(
    Histogram(
        "congress_graphql_request_duration_seconds",
        "Time from a GraphQL request's arrival to its last response byte, by operation.",
        LATENCY_BUCKETS,
        ("operation",),
    )
)
query_cost = REGISTRY.add(
    Histogram(
        "congress_graphql_query_cost",
        "Cost of the GraphQL operations judged, in cost units, refused ones included.",
        COST_BUCKETS,
    )
)
refusals = REGISTRY.add(
    Counter(
        "congress_refusals_total",
        "Requests refused before or instead of running, by kind "
        "(rate_limit, failed_authentication, unauthenticated, shed, cost, body, time).",
        ("kind",),
    )
)
write_retries = REGISTRY.add(
    Counter(
        "congress_write_retries_total",
        "Write transactions started over because another writer got in between "
        "(contention, lock or serialization failure).",
    )
)
redis_failures = REGISTRY.add(
    Counter(
        "congress_redis_failures_total",
        "Redis commands that failed or timed out; each makes this worker keep its own rate "
        "limits for a few seconds (graph/rate_limits/).",
    )
)
live_subscriptions = REGISTRY.add(
    Counter(
        "congress_live_subscriptions_total",
        "Live subscriptions started and ended on this worker, by field and event "
        "(started, ended); started minus ended is how many are open.",
        ("field", "event"),
    )
)
live_messages = REGISTRY.add(
    Counter(
        "congress_live_messages_total",
        "Messages sent to live subscribers, by field.",
        ("field",),
    )
)
full_collection_seconds = REGISTRY.add(
    Histogram(
        "congress_gc_full_collection_seconds",
        "Full garbage collections of a serving worker and how long each stopped it "
        "(graph/garbage_collection.py, OldGarbage).",
        (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    )
)
live_renders = REGISTRY.add(
    Counter(
        "congress_live_renders_total",
        "Live messages executed and encoded, by field: once per change for all the "
        "websocket subscribers of one document who see it alike (graph/live/delivery.py).",
        ("field",),
    )
)
live_summary_reads = REGISTRY.add(
    Counter(
        "congress_live_summary_reads_total",
        "Live summaries read from the database: one per change per watched (committee, "
        "term), shared by all its subscribers.",
    )
)


@dataclass(slots=True)
class RequestRecord:
    """What other code tells about the request being served, for its outcome and log line."""

    cost: int | None = None
    refusal: str | None = None
    graphql_errors: bool = False

    def outcome(self, status: int) -> str:
        if self.refusal is not None:
            return REFUSED_PREFIX + self.refusal
        if self.graphql_errors or status >= 400:
            return OUTCOME_ERROR
        return OUTCOME_OK


current_request: ContextVar[RequestRecord | None] = ContextVar(
    "congress_current_request", default=None
)


def observe_cost(cost: int) -> None:
    """Count an operation's cost in the histogram; the request's log line shows it too."""
    query_cost.observe(cost)
    record = current_request.get()
    if record is not None:
        record.cost = cost


def count_refusal(kind: str) -> None:
    """Count a refusal (`rate_limit`, `shed`, `cost`, `body`, ...); the request served now,
    if any, gets the outcome `refused_<kind>`."""
    kind = kind if _REFUSAL_KIND.fullmatch(kind) else "other"
    refusals.inc(kind)
    record = current_request.get()
    if record is not None:
        record.refusal = kind


def record_write_retry() -> None:
    """Count one write transaction started over (graph/resolvers/mutations.py)."""
    write_retries.inc()


def record_redis_failure() -> None:
    redis_failures.inc()


def record_graphql_errors() -> None:
    """Note that the response to the request served now carries GraphQL errors."""
    record = current_request.get()
    if record is not None:
        record.graphql_errors = True


def count_graphql_request(operation: str, outcome: str, duration_seconds: float) -> None:
    """One finished GraphQL request, under its (bounded) operation name."""
    label = operation_label(operation)
    graphql_requests.inc(label, outcome)
    graphql_duration.observe(duration_seconds, label)
