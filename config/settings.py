"""The settings every part of congress-monitor reads: one frozen object, no globals."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Introspection(StrEnum):
    """Who may ask the schema about itself (`__schema`, `__type`)."""

    SIGNED_IN = "signed-in"
    ADMINS = "admins"
    OFF = "off"


DEFAULT_DATA_DIR = Path("congress-data")
MIN_ALLOWED_ASSURANCE_LEVEL = 2
SQLITE_FILE_NAME = "congress.db"
# Asymmetric only; permissions.oidc refuses anything else (HS*, none) at startup.
DEFAULT_OIDC_ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")


# In production, settings past these re-open what the limits close (README, Limits): the
# server refuses to start with them rather than serve a network that way.
PRODUCTION_BOUNDS: tuple[tuple[str, str, float], ...] = (
    # (variable, attribute, the most production accepts)
    ("CONGRESS_MAX_TOKEN_LIFETIME_SECONDS", "max_token_lifetime_seconds", 7 * 24 * 3600),
    ("CONGRESS_MAX_QUERY_COST", "max_query_cost", 1_000_000),
    ("CONGRESS_MAX_QUERY_NODES", "max_query_nodes", 100_000),
    ("CONGRESS_MAX_DOCUMENT_CHARS", "max_document_chars", 1_000_000),
    ("CONGRESS_MAX_BODY_BYTES", "max_body_bytes", 10_000_000),
    ("CONGRESS_MAX_HEADER_BYTES", "max_header_bytes", 1_000_000),
    ("CONGRESS_MAX_MUTATIONS", "max_mutations", 100),
    ("CONGRESS_REQUEST_TIMEOUT_SECONDS", "request_timeout_seconds", 120),
)


# Cost each role may spend a minute (README, Rate limits).
DEFAULT_RATE_LIMITS: tuple[tuple[str, int], ...] = (
    ("viewer", 30_000),
    ("reporter", 30_000),
    ("approver", 30_000),
    ("admin", 60_000),
)
RATE_LIMITS_OFF = "off"


def normalize_database_url(url: str) -> str:
    """Pick the async driver for a plain URL, so `postgresql://...` and `sqlite:///...` just work."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url


@dataclass(frozen=True)
class Settings:
    """Everything configurable. Build with `Settings.from_env()` and override with `with_()`."""

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = None
    environment: Environment = Environment.DEVELOPMENT
    # The local token issuer is for development and tests; production turns it off by default.
    local_issuer_enabled: bool = True
    max_query_depth: int = 15
    max_page_size: int = 100
    # Worst-case objects one query may return (sum over connections of nested `first`s).
    # A 20 x 10 x 10 dashboard is 2,220; four of those in flight, with progress, raise the
    # server's memory by ~125 MiB (bench/progress.py), so one query at the limit ~140 MiB.
    max_query_nodes: int = 10_000
    # Worst-case objects all queries running in one worker may return together; a query
    # that does not fit waits for others to finish (graph/schema/node_budget.py).
    max_nodes_in_flight: int = 10_000
    default_page_size: int = 20
    token_ttl_seconds: int = 12 * 3600
    # How long a browser stays signed in (the web app's session; a working day).
    session_lifetime_seconds: int = 8 * 3600
    graphiql: bool = True
    # Queries over the tree answered by the planner (graph/planner/); off, graphql-core
    # answers every query field by field, as the planner's differential test compares.
    planned_reads: bool = True
    # OpenID Connect provider (docs/identity-provider.md); off while `oidc_issuer` is None.
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    # The web app's client at the provider, for signing in from a browser (the
    # authorization-code flow with PKCE); the secret only if the provider requires one.
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    # None: read `jwks_uri` from the issuer's discovery document.
    oidc_jwks_url: str | None = None
    oidc_algorithms: tuple[str, ...] = DEFAULT_OIDC_ALGORITHMS
    oidc_clock_skew_seconds: float = 30.0
    # When set (e.g. "at+jwt", RFC 9068), tokens must carry this `typ` header.
    oidc_token_type: str | None = None
    oidc_assurance_claim: str = "acr"
    # Least time between two fetches of the provider's keys (an unknown key id asks again).
    oidc_jwks_refetch_seconds: float = 10.0
    # Every identity, from any issuer, must be proven at this level or higher.
    min_assurance_level: int = 2
    # Open difficulties with no activity for this long move up one level by themselves.
    escalate_after_seconds: int = 3 * 24 * 3600
    # How often the API looks for such difficulties while serving; 0 turns that off (cron
    # can run `congress escalate-overdue` instead).
    escalation_interval_seconds: float = 300.0
    # What one request may take from a worker (README, Limits).
    # Most an operation may cost, judged before it runs (graph/schema/cost.py): a page at
    # the node limit with a few fields on each object (a 40 x 40 x 3 tree page is 51,403).
    max_query_cost: int = 100_000
    # Most root fields one mutation request may hold (each is a write).
    max_mutations: int = 20
    # Largest request body; a longer one is refused (413) before it is read whole.
    max_body_bytes: int = 1_000_000
    # Largest request line and headers together (cli/bounded_headers.py); past it, 431.
    max_header_bytes: int = 32_768
    # Longest GraphQL document, in characters: parsing one this long costs ~30 ms; the
    # longest query of the README is under 1,000.
    max_document_chars: int = 20_000
    # Requests one worker answers at once; past that, new ones get 503 at once. A worker is
    # CPU-bound well before 32 (bench/load.py): more in flight answer no more a second,
    # they only lengthen every turn of the event loop, and with it every write's hold on
    # SQLite's one write lock (under 200 clients, write p99 / read p99 4.5-5.0 at 64,
    # 3.4-3.9 at 32).
    max_requests_in_flight: int = 32
    # Longest a request may run before it is ended with an error.
    request_timeout_seconds: float = 10.0
    # Longest a request waits for a lock another transaction holds (PostgreSQL's
    # lock_timeout; SQLite's busy timeout and its queue of writers), and in all for locks
    # across a write's retries: then UNAVAILABLE (graph/database_faults.py).
    lock_wait_seconds: float = 5.0
    # Longest a request waits for one of the worker's pooled database connections.
    pool_wait_seconds: float = 5.0
    # On SIGTERM or SIGINT: how long requests in flight may take to finish.
    shutdown_timeout_seconds: float = 20.0
    # When set, /metrics answers only `Authorization: Bearer <this>`.
    metrics_token: str | None = None
    # Redis, for what all workers and hosts share (rate limits); None: per worker.
    redis_url: str | None = None
    # Keys in Redis start with this, so that several deployments can share one Redis.
    redis_key_prefix: str = "congress:"
    # Cost (graph/schema/cost.py) each role may spend a minute (graph/rate_limits/); a
    # dashboard costs 469 with its request, GraphiQL's schema query 6,490. Empty: none.
    rate_limits: tuple[tuple[str, int], ...] = DEFAULT_RATE_LIMITS
    # Failed authentications one client address may make a minute; 0: unlimited.
    failed_auth_per_minute: int = 60
    # Who may introspect the schema; counted by cost like any query (graph/schema/cost.py).
    introspection: Introspection = Introspection.SIGNED_IN
    # Tokens whose `exp - iat` is longer are refused, whoever issued them.
    max_token_lifetime_seconds: int = 24 * 3600
    # Live updates (graph/live/): a watched summary is sent at most this often, and a
    # revoked role ends the subscriptions it allowed within this long.
    live_interval_ms: int = 1000
    # How often a worker looks for new changes in the feed when nothing woke it: SQLite's
    # watermark poll (PostgreSQL is woken by NOTIFY and only polls as a safety net).
    live_poll_ms: int = 50
    # Most changes a resuming subscriber is replayed; past it, RESYNC_REQUIRED.
    live_replay_limit: int = 1000
    # Changes waiting for one subscriber that does not read; past it, it is disconnected.
    live_queue_limit: int = 500
    # Subscriptions one connection, and one user over all their connections on a worker,
    # may hold at once.
    live_subscriptions_per_connection: int = 20
    live_subscriptions_per_user: int = 50
    # SQLite's page cache, in KiB, for all of a worker's pooled connections together (each
    # connection keeps its own, so SQLite's default of 2,000 KiB each is up to ~60 MiB a
    # worker at 30 connections). The operating system caches the file for every process;
    # any write by another connection empties these caches anyway (WAL).
    sqlite_cache_kib: int = 8192
    # The most a SQLite database may grow to, in MiB (0: as far as its disk allows). A write
    # past it is refused as if the disk were full (UNAVAILABLE), before it fills a disk the
    # system, its logs and its backups share. A database already larger is held at its size.
    sqlite_max_size_mib: int = 0
    # A serving worker runs a full garbage collection once its memory has grown by this
    # many MiB over its lowest point since the last one, and at least every 10 minutes
    # (graph/garbage_collection.py): every long-lived object is walked that rarely.
    old_garbage_mib: int = 64

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        environment = Environment(env.get("CONGRESS_ENV", Environment.DEVELOPMENT.value))
        is_production = environment is Environment.PRODUCTION
        return cls(
            data_dir=Path(env.get("CONGRESS_DATA_DIR", str(DEFAULT_DATA_DIR))),
            database_url=env.get("CONGRESS_DATABASE_URL") or None,
            environment=environment,
            local_issuer_enabled=_flag(env.get("CONGRESS_LOCAL_ISSUER"), default=not is_production),
            max_query_depth=int(env.get("CONGRESS_MAX_QUERY_DEPTH") or cls.max_query_depth),
            max_page_size=int(env.get("CONGRESS_MAX_PAGE_SIZE") or cls.max_page_size),
            max_query_nodes=int(env.get("CONGRESS_MAX_QUERY_NODES") or cls.max_query_nodes),
            max_nodes_in_flight=int(
                env.get("CONGRESS_MAX_NODES_IN_FLIGHT") or cls.max_nodes_in_flight
            ),
            token_ttl_seconds=int(env.get("CONGRESS_TOKEN_TTL") or cls.token_ttl_seconds),
            session_lifetime_seconds=int(
                env.get("CONGRESS_SESSION_LIFETIME_SECONDS") or cls.session_lifetime_seconds
            ),
            graphiql=_flag(env.get("CONGRESS_GRAPHIQL"), default=not is_production),
            planned_reads=_flag(env.get("CONGRESS_PLANNED_READS"), default=True),
            oidc_issuer=env.get("CONGRESS_OIDC_ISSUER") or None,
            oidc_audience=env.get("CONGRESS_OIDC_AUDIENCE") or None,
            oidc_client_id=env.get("CONGRESS_OIDC_CLIENT_ID") or None,
            oidc_client_secret=env.get("CONGRESS_OIDC_CLIENT_SECRET") or None,
            oidc_jwks_url=env.get("CONGRESS_OIDC_JWKS_URL") or None,
            oidc_algorithms=_names(env.get("CONGRESS_OIDC_ALGORITHMS")) or cls.oidc_algorithms,
            oidc_clock_skew_seconds=float(
                env.get("CONGRESS_OIDC_CLOCK_SKEW") or cls.oidc_clock_skew_seconds
            ),
            oidc_token_type=env.get("CONGRESS_OIDC_TOKEN_TYPE") or None,
            oidc_assurance_claim=env.get("CONGRESS_OIDC_ASSURANCE_CLAIM")
            or cls.oidc_assurance_claim,
            oidc_jwks_refetch_seconds=float(
                env.get("CONGRESS_OIDC_JWKS_REFETCH_SECONDS") or cls.oidc_jwks_refetch_seconds
            ),
            min_assurance_level=int(
                env.get("CONGRESS_MIN_ASSURANCE_LEVEL") or cls.min_assurance_level
            ),
            escalate_after_seconds=int(
                env.get("CONGRESS_ESCALATE_AFTER_SECONDS") or cls.escalate_after_seconds
            ),
            escalation_interval_seconds=float(
                env.get("CONGRESS_ESCALATION_INTERVAL_SECONDS") or cls.escalation_interval_seconds
            ),
            max_query_cost=int(env.get("CONGRESS_MAX_QUERY_COST") or cls.max_query_cost),
            max_mutations=int(env.get("CONGRESS_MAX_MUTATIONS") or cls.max_mutations),
            max_body_bytes=int(env.get("CONGRESS_MAX_BODY_BYTES") or cls.max_body_bytes),
            max_header_bytes=int(env.get("CONGRESS_MAX_HEADER_BYTES") or cls.max_header_bytes),
            max_document_chars=int(
                env.get("CONGRESS_MAX_DOCUMENT_CHARS") or cls.max_document_chars
            ),
            max_requests_in_flight=int(
                env.get("CONGRESS_MAX_REQUESTS_IN_FLIGHT") or cls.max_requests_in_flight
            ),
            request_timeout_seconds=float(
                env.get("CONGRESS_REQUEST_TIMEOUT_SECONDS") or cls.request_timeout_seconds
            ),
            lock_wait_seconds=float(env.get("CONGRESS_LOCK_WAIT_SECONDS") or cls.lock_wait_seconds),
            pool_wait_seconds=float(env.get("CONGRESS_POOL_WAIT_SECONDS") or cls.pool_wait_seconds),
            shutdown_timeout_seconds=float(
                env.get("CONGRESS_SHUTDOWN_TIMEOUT") or cls.shutdown_timeout_seconds
            ),
            metrics_token=env.get("CONGRESS_METRICS_TOKEN") or None,
            redis_url=env.get("CONGRESS_REDIS_URL") or None,
            redis_key_prefix=env.get("CONGRESS_REDIS_KEY_PREFIX") or cls.redis_key_prefix,
            rate_limits=_rate_limits(env.get("CONGRESS_RATE_LIMITS")),
            failed_auth_per_minute=int(
                env.get("CONGRESS_FAILED_AUTH_PER_MINUTE") or cls.failed_auth_per_minute
            ),
            introspection=Introspection(
                env.get("CONGRESS_INTROSPECTION") or Introspection.SIGNED_IN.value
            ),
            max_token_lifetime_seconds=int(
                env.get("CONGRESS_MAX_TOKEN_LIFETIME_SECONDS") or cls.max_token_lifetime_seconds
            ),
            live_interval_ms=int(env.get("CONGRESS_LIVE_INTERVAL_MS") or cls.live_interval_ms),
            live_poll_ms=int(env.get("CONGRESS_LIVE_POLL_MS") or cls.live_poll_ms),
            live_replay_limit=int(env.get("CONGRESS_LIVE_REPLAY_LIMIT") or cls.live_replay_limit),
            live_queue_limit=int(env.get("CONGRESS_LIVE_QUEUE_LIMIT") or cls.live_queue_limit),
            live_subscriptions_per_connection=int(
                env.get("CONGRESS_LIVE_SUBSCRIPTIONS_PER_CONNECTION")
                or cls.live_subscriptions_per_connection
            ),
            live_subscriptions_per_user=int(
                env.get("CONGRESS_LIVE_SUBSCRIPTIONS_PER_USER") or cls.live_subscriptions_per_user
            ),
            sqlite_cache_kib=int(env.get("CONGRESS_SQLITE_CACHE_KIB") or cls.sqlite_cache_kib),
            sqlite_max_size_mib=int(
                env.get("CONGRESS_SQLITE_MAX_SIZE_MIB") or cls.sqlite_max_size_mib
            ),
            old_garbage_mib=int(env.get("CONGRESS_OLD_GARBAGE_MIB") or cls.old_garbage_mib),
        )

    def __post_init__(self) -> None:
        # Officials are identified at level 2 at least: a lower setting would quietly let
        # weaker identities in, so it is refused rather than obeyed.
        if self.min_assurance_level < MIN_ALLOWED_ASSURANCE_LEVEL:
            raise ValueError(
                f"CONGRESS_MIN_ASSURANCE_LEVEL must be at least {MIN_ALLOWED_ASSURANCE_LEVEL}."
            )
        if self.sqlite_max_size_mib < 0:
            raise ValueError("CONGRESS_SQLITE_MAX_SIZE_MIB must be 0 (no cap) or more.")
        if self.max_nodes_in_flight < 1:
            raise ValueError("CONGRESS_MAX_NODES_IN_FLIGHT must be at least 1.")
        for name, value in (
            ("CONGRESS_MAX_QUERY_COST", self.max_query_cost),
            ("CONGRESS_MAX_MUTATIONS", self.max_mutations),
            ("CONGRESS_MAX_BODY_BYTES", self.max_body_bytes),
            ("CONGRESS_MAX_HEADER_BYTES", self.max_header_bytes),
            ("CONGRESS_MAX_DOCUMENT_CHARS", self.max_document_chars),
            ("CONGRESS_MAX_REQUESTS_IN_FLIGHT", self.max_requests_in_flight),
            ("CONGRESS_MAX_TOKEN_LIFETIME_SECONDS", self.max_token_lifetime_seconds),
            ("CONGRESS_SESSION_LIFETIME_SECONDS", self.session_lifetime_seconds),
            ("CONGRESS_LIVE_INTERVAL_MS", self.live_interval_ms),
            ("CONGRESS_LIVE_POLL_MS", self.live_poll_ms),
            ("CONGRESS_LIVE_REPLAY_LIMIT", self.live_replay_limit),
            ("CONGRESS_LIVE_QUEUE_LIMIT", self.live_queue_limit),
            ("CONGRESS_LIVE_SUBSCRIPTIONS_PER_CONNECTION", self.live_subscriptions_per_connection),
            ("CONGRESS_LIVE_SUBSCRIPTIONS_PER_USER", self.live_subscriptions_per_user),
            ("CONGRESS_SQLITE_CACHE_KIB", self.sqlite_cache_kib),
            ("CONGRESS_OLD_GARBAGE_MIB", self.old_garbage_mib),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1.")
        for name, seconds in (
            ("CONGRESS_REQUEST_TIMEOUT_SECONDS", self.request_timeout_seconds),
            ("CONGRESS_LOCK_WAIT_SECONDS", self.lock_wait_seconds),
            ("CONGRESS_POOL_WAIT_SECONDS", self.pool_wait_seconds),
            ("CONGRESS_SHUTDOWN_TIMEOUT", self.shutdown_timeout_seconds),
        ):
            if seconds <= 0:
                raise ValueError(f"{name} must be more than 0.")
        if self.failed_auth_per_minute < 0:
            raise ValueError("CONGRESS_FAILED_AUTH_PER_MINUTE must be 0 (unlimited) or more.")
        _check_rate_limits(self.rate_limits)

    def unsafe_in_production(self) -> list[str]:
        """What about these settings a production server must not run with, each naming
        the variable; empty outside production."""
        if self.environment is not Environment.PRODUCTION:
            return []
        problems = [
            f"{variable}={getattr(self, attribute):,} is over the {most:,} production allows"
            for variable, attribute, most in PRODUCTION_BOUNDS
            if getattr(self, attribute) > most
        ]
        if not self.rate_limits:
            problems.append(
                f"CONGRESS_RATE_LIMITS={RATE_LIMITS_OFF}: one user could take a worker from "
                "everyone else"
            )
        if self.failed_auth_per_minute == 0:
            problems.append(
                "CONGRESS_FAILED_AUTH_PER_MINUTE=0: a flood of bad tokens would be checked "
                "one by one"
            )
        if self.local_issuer_enabled and self.oidc_issuer:
            problems.append(
                "CONGRESS_LOCAL_ISSUER=1 beside CONGRESS_OIDC_ISSUER: tokens signed with a key "
                "on this server's disk would be accepted beside the identity provider's"
            )
        return problems

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def resolved_database_url(self) -> str:
        """The async SQLAlchemy URL; the default is a SQLite file inside the data directory."""
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / SQLITE_FILE_NAME).resolve()}"

    @property
    def signing_key_path(self) -> Path:
        return self.data_dir / "local-issuer-key.pem"

    def to_env(self) -> dict[str, str]:
        """The environment that reproduces these settings in a fresh process (uvicorn workers)."""
        env = {
            "CONGRESS_DATA_DIR": str(self.data_dir.resolve()),
            "CONGRESS_DATABASE_URL": self.resolved_database_url,
            "CONGRESS_ENV": self.environment.value,
            "CONGRESS_LOCAL_ISSUER": "1" if self.local_issuer_enabled else "0",
            "CONGRESS_MAX_QUERY_DEPTH": str(self.max_query_depth),
            "CONGRESS_MAX_PAGE_SIZE": str(self.max_page_size),
            "CONGRESS_MAX_QUERY_NODES": str(self.max_query_nodes),
            "CONGRESS_MAX_NODES_IN_FLIGHT": str(self.max_nodes_in_flight),
            "CONGRESS_TOKEN_TTL": str(self.token_ttl_seconds),
            "CONGRESS_SESSION_LIFETIME_SECONDS": str(self.session_lifetime_seconds),
            "CONGRESS_GRAPHIQL": "1" if self.graphiql else "0",
            "CONGRESS_PLANNED_READS": "1" if self.planned_reads else "0",
            "CONGRESS_OIDC_ISSUER": self.oidc_issuer or "",
            "CONGRESS_OIDC_AUDIENCE": self.oidc_audience or "",
            "CONGRESS_OIDC_CLIENT_ID": self.oidc_client_id or "",
            "CONGRESS_OIDC_CLIENT_SECRET": self.oidc_client_secret or "",
            "CONGRESS_OIDC_JWKS_URL": self.oidc_jwks_url or "",
            "CONGRESS_OIDC_ALGORITHMS": ",".join(self.oidc_algorithms),
            "CONGRESS_OIDC_CLOCK_SKEW": str(self.oidc_clock_skew_seconds),
            "CONGRESS_OIDC_TOKEN_TYPE": self.oidc_token_type or "",
            "CONGRESS_OIDC_ASSURANCE_CLAIM": self.oidc_assurance_claim,
            "CONGRESS_OIDC_JWKS_REFETCH_SECONDS": str(self.oidc_jwks_refetch_seconds),
            "CONGRESS_MIN_ASSURANCE_LEVEL": str(self.min_assurance_level),
            "CONGRESS_ESCALATE_AFTER_SECONDS": str(self.escalate_after_seconds),
            "CONGRESS_ESCALATION_INTERVAL_SECONDS": str(self.escalation_interval_seconds),
            "CONGRESS_MAX_QUERY_COST": str(self.max_query_cost),
            "CONGRESS_MAX_MUTATIONS": str(self.max_mutations),
            "CONGRESS_MAX_BODY_BYTES": str(self.max_body_bytes),
            "CONGRESS_MAX_HEADER_BYTES": str(self.max_header_bytes),
            "CONGRESS_MAX_DOCUMENT_CHARS": str(self.max_document_chars),
            "CONGRESS_MAX_REQUESTS_IN_FLIGHT": str(self.max_requests_in_flight),
            "CONGRESS_REQUEST_TIMEOUT_SECONDS": str(self.request_timeout_seconds),
            "CONGRESS_LOCK_WAIT_SECONDS": str(self.lock_wait_seconds),
            "CONGRESS_POOL_WAIT_SECONDS": str(self.pool_wait_seconds),
            "CONGRESS_SHUTDOWN_TIMEOUT": str(self.shutdown_timeout_seconds),
            "CONGRESS_METRICS_TOKEN": self.metrics_token or "",
            "CONGRESS_REDIS_URL": self.redis_url or "",
            "CONGRESS_REDIS_KEY_PREFIX": self.redis_key_prefix,
            "CONGRESS_RATE_LIMITS": ",".join(f"{role}={quota}" for role, quota in self.rate_limits)
            or RATE_LIMITS_OFF,
            "CONGRESS_FAILED_AUTH_PER_MINUTE": str(self.failed_auth_per_minute),
            "CONGRESS_INTROSPECTION": self.introspection.value,
            "CONGRESS_MAX_TOKEN_LIFETIME_SECONDS": str(self.max_token_lifetime_seconds),
            "CONGRESS_LIVE_INTERVAL_MS": str(self.live_interval_ms),
            "CONGRESS_LIVE_POLL_MS": str(self.live_poll_ms),
            "CONGRESS_LIVE_REPLAY_LIMIT": str(self.live_replay_limit),
            "CONGRESS_LIVE_QUEUE_LIMIT": str(self.live_queue_limit),
            "CONGRESS_LIVE_SUBSCRIPTIONS_PER_CONNECTION": str(
                self.live_subscriptions_per_connection
            ),
            "CONGRESS_LIVE_SUBSCRIPTIONS_PER_USER": str(self.live_subscriptions_per_user),
            "CONGRESS_SQLITE_CACHE_KIB": str(self.sqlite_cache_kib),
            "CONGRESS_SQLITE_MAX_SIZE_MIB": str(self.sqlite_max_size_mib),
            "CONGRESS_OLD_GARBAGE_MIB": str(self.old_garbage_mib),
        }
        return env


def _flag(value: str | None, *, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


# A structured-field integer (the RateLimit-Policy header's `q`) has at most 15 digits.
MAX_RATE_LIMIT_QUOTA = 999_999_999_999_999


def _check_rate_limits(quotas: tuple[tuple[str, int], ...]) -> None:
    """Refused here, before `congress serve` starts its workers (each would die on it)."""
    from models.users import Role  # config is read before the models are needed

    roles = [role.value for role in Role]
    named = [role for role, _quota in quotas]
    unknown = sorted(set(named) - set(roles))
    if unknown:
        raise ValueError(
            f"CONGRESS_RATE_LIMITS names no role {', '.join(unknown)}; the roles are "
            + ", ".join(roles)
        )
    if quotas and sorted(named) != sorted(roles):
        raise ValueError("CONGRESS_RATE_LIMITS must give each role one quota.")
    if any(not 1 <= quota <= MAX_RATE_LIMIT_QUOTA for _role, quota in quotas):
        raise ValueError(
            f"CONGRESS_RATE_LIMITS: every quota must be from 1 to {MAX_RATE_LIMIT_QUOTA:,}."
        )


def _rate_limits(value: str | None) -> tuple[tuple[str, int], ...]:
    """`off`, or `role=quota` pairs (`admin=120000, viewer=20000`) over the defaults."""
    if value is None or not value.strip():
        return DEFAULT_RATE_LIMITS
    if value.strip().lower() == RATE_LIMITS_OFF:
        return ()
    quotas = dict(DEFAULT_RATE_LIMITS)
    given: set[str] = set()
    for pair in _names(value):
        role, separator, quota = pair.partition("=")
        if not separator or not quota.strip().isdigit():
            raise ValueError(
                f"CONGRESS_RATE_LIMITS: {pair!r} is not role=quota (e.g. viewer=30000), "
                f"nor {RATE_LIMITS_OFF!r}."
            )
        if role.strip() in given:
            raise ValueError(f"CONGRESS_RATE_LIMITS gives {role.strip()} twice.")
        given.add(role.strip())
        quotas[role.strip()] = int(quota)
    return tuple(quotas.items())


def _names(value: str | None) -> tuple[str, ...]:
    """A comma- or space-separated list, e.g. `RS256, ES256`."""
    return tuple(name for name in (value or "").replace(",", " ").split() if name)
