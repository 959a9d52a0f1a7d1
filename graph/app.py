"""create_app(settings) -> the Starlette application; its lifespan owns the engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext, suppress
from datetime import timedelta
from pathlib import Path
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_SSE_PROTOCOL, GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult, SubscriptionExecutionResult

from config import Environment, Settings
from domain.milestone_writer import MilestoneWriter
from graph import reports
from graph.authentication import (
    EXPIRES_AT_STATE_KEY,
    SESSION_STATE_KEY,
    VIEWER_STATE_KEY,
    AuthenticationMiddleware,
    refuse_sign_in,
    signed_in_viewer,
)
from graph.context import Context
from graph.failure_answers import FailureAnswers
from graph.garbage_collection import OldGarbage, tune_for_serving
from graph.graphql_over_http import (
    APPLICATION_JSON,
    GRAPHQL_RESPONSE_JSON,
    decode_request_json,
    http_refusal,
    request_failure_status,
    response_media_type,
    unavailable_retry_after,
    with_code,
)
from graph.live.connections import ConnectionSignIn, SignedInTransportWSHandler
from graph.live.service import Live
from graph.observability import observability_routes
from graph.observability.access_log import AccessLogMiddleware, enable_access_log
from graph.rate_limits import EXPORT_COST, Buckets, RateLimits, RedisBuckets
from graph.reads_data import reads_data
from graph.request_bounds import (
    TIME_BUDGET_GRACE_SECONDS,
    BodyLimit,
    LoadShedding,
    TimeBudget,
    is_event_stream,
)
from graph.request_ids import REQUEST_ID_STATE_KEY, RequestIdMiddleware, assign_request_id
from graph.response_json import encode_response
from graph.schema import build_schema
from graph.stop_signals import on_stop_signal
from graph.term_catalog import TermCatalog
from models.backups import SERVING_APPLICATION_NAME, ServingMark
from models.database import create_engine, create_session_factory
from models.difficulties import escalate_overdue_periodically
from permissions.authentication import AuthenticationError
from permissions.browser_sessions import BrowserSessions
from permissions.oidc import OidcConfig, OidcVerifier
from permissions.oidc_sign_in import OidcSignIn
from permissions.tokens import (
    LOCAL_ISSUER,
    IssuerRouter,
    LimitLifetime,
    LocalIssuer,
    RequireAssurance,
    TokenVerifier,
)
from permissions.viewer import NOBODY
from web.routes import web_routes
from web.sign_in import BrowserSignIn

# GraphiQL's page (strawberry's, MIT, with its assets served from here) and its assets,
# vendored as published by tools/vendor_graphiql.py.
STATIC = Path(__file__).resolve().parent / "static"
GRAPHIQL_ASSETS = STATIC / "graphiql"
GRAPHIQL_PAGE = (STATIC / "graphiql.html").read_text(encoding="utf-8")
GRAPHIQL_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "; ".join(
        (
            "default-src 'self'",
            "frame-ancestors 'none'",
            "script-src 'self' 'unsafe-inline'",  # the page's own inline script
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",  # GraphiQL's fonts are inlined in its CSS
            "connect-src 'self'",
        )
    ),
}
# How long a websocket may stay open before it signs in (connection_init).
CONNECTION_INIT_WAIT = timedelta(seconds=10)

# A worker that sheds load still answers whether it is alive and how it is doing.
NEVER_SHED_PATHS = ("/health", "/health/live", "/health/ready", "/metrics")

# What CongressGraphQL notes about a request for the answer it is building.
_MEDIA_TYPE_STATE_KEY = "graphql_response_media_type"
_FAILURE_STATE_KEY = "graphql_request_failure_status"
_RETRY_AFTER_STATE_KEY = "graphql_retry_after_seconds"


class CongressGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI app, with the Context built from what authentication put in the
    state; subscriptions over graphql-transport-ws (signed in at `connection_init`,
    graph/live/connections.py) and Server-Sent Events."""

    graphql_transport_ws_handler_class = SignedInTransportWSHandler

    def __init__(
        self,
        settings: Settings,
        terms: TermCatalog,
        milestones: MilestoneWriter,
        live: Live,
        sign_in: ConnectionSignIn,
    ) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_SSE_PROTOCOL),
            connection_init_wait_timeout=CONNECTION_INIT_WAIT,
            max_subscriptions_per_connection=settings.live_subscriptions_per_connection,
        )
        self._settings = settings
        self._terms = terms
        self._milestones = milestones
        self._live = live
        self._unused_session = live.sessions()
        self.sign_in = sign_in

    async def render_graphql_ide(self, request: Request) -> Response:
        # Ours, not strawberry's: its assets come from this server, not a CDN. It keeps the
        # pasted token in the browser, so no other site may frame it (and have a user
        # click Run on a query put in its URL), and it loads nothing from elsewhere.
        return HTMLResponse(GRAPHIQL_PAGE, headers=GRAPHIQL_HEADERS)

    def encode_json(self, data: object) -> str:
        # Database-built pages go out as the database wrote them (graph/response_json.py).
        return encode_response(data)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # strawberry's own __call__, but its refusals of malformed requests answer JSON (it
        # answers plain text), and every answer comes in the media type the client asked for.
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        media_type = response_media_type(request.headers.get("accept"))
        setattr(request.state, _MEDIA_TYPE_STATE_KEY, media_type)
        try:
            response = await self.run(request)
        except HTTPException as error:
            response = http_refusal(error, media_type)
        except AuthenticationError as error:
            # The user behind a credential that checked out is gone (execute_operation).
            await refuse_sign_in(scope, send, error)
            return
        else:
            if media_type == GRAPHQL_RESPONSE_JSON and response.media_type == APPLICATION_JSON:
                response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
                response.status_code = getattr(request.state, _FAILURE_STATE_KEY, None) or 200
            retry_after = getattr(request.state, _RETRY_AFTER_STATE_KEY, None)
            if retry_after is not None:
                # The database failed the whole request: 503 in either media type, as a
                # proxy or a client library understands it.
                response.status_code = 503
                response.headers["retry-after"] = str(retry_after)
        await response(scope, receive, send)

    def parse_json(self, data: str | bytes) -> Any:
        return decode_request_json(data)

    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Any,
    ) -> ExecutionResult | list[ExecutionResult] | SubscriptionExecutionResult:
        # The user is read once the document is known, and only if it reads data: a
        # `{ __typename }` touches no database (graph/reads_data.py).
        if reads_data(request_data):
            context.viewer = await signed_in_viewer(request.scope)
            context.reset_loaders()
            if context.streaming:
                # A stream lasts as long as its subscriber: give back the connection that
                # reading the user took (the subscription borrows its own).
                await context.session.close()
        return await super().execute_operation(
            request, request_adapter, request_data, context, root_value, sub_response
        )

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        answer = await super().process_result(request, result)
        if result.errors:
            answer["errors"] = [with_code(error) for error in result.errors]
        retry_after = unavailable_retry_after(result.data, result.errors)
        if retry_after is not None:
            setattr(request.state, _RETRY_AFTER_STATE_KEY, retry_after)
        failure_status = request_failure_status(result.data, result.errors)
        if failure_status is not None:
            setattr(request.state, _FAILURE_STATE_KEY, failure_status)
            if getattr(request.state, _MEDIA_TYPE_STATE_KEY, None) == GRAPHQL_RESPONSE_JSON:
                # The spec's request error: no field ran, so there is no `data` entry at all.
                answer.pop("data", None)
        return answer

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        if isinstance(request, WebSocket):
            # Signed in at connection_init. The connection's operations borrow sessions of
            # their own (graph/live/subscriptions.py), and it carries no query or mutation
            # (graph/schema/streams.py): one session, never connected, serves every socket.
            return Context(
                settings=self._settings,
                session=self._unused_session,
                viewer=NOBODY,
                request_id=getattr(request.state, REQUEST_ID_STATE_KEY),
                terms=self._terms,
                milestones=self._milestones,
                live=self._live,
                streaming=True,
            )
        session: AsyncSession = getattr(request.state, SESSION_STATE_KEY)
        return Context(
            settings=self._settings,
            session=session,
            # Nobody until execute_operation reads the user, which it does for any document
            # that reads data; a document of `__typename` alone needs nobody.
            viewer=getattr(request.state, VIEWER_STATE_KEY, NOBODY),
            request_id=getattr(request.state, REQUEST_ID_STATE_KEY),
            terms=self._terms,
            milestones=self._milestones,
            live=self._live,
            streaming=is_event_stream(request.scope),
            expires_at=getattr(request.state, EXPIRES_AT_STATE_KEY),
        )


class CongressApp(Starlette):
    """Starlette, with websockets to /graphql handed straight to the GraphQL app. The HTTP
    middlewares bound requests (body, time, load), log them and sign them in; a websocket
    is signed in at `connection_init` (graph/live/connections.py) and bounded by its own
    limits, and every layer it passed through would keep a frame for the socket's life,
    thousands of sockets a worker."""

    def __init__(self, *, graphql_websockets: ASGIApp, **starlette: Any) -> None:
        super().__init__(**starlette)
        self._graphql_websockets = graphql_websockets
        # A serving worker's full garbage collections (create_app_from_env), run while the
        # app is; None where CPython's own collector is kept (tests, tools).
        self.old_garbage: OldGarbage | None = None
        # Set for a serving worker (create_app_from_env): it handles the stop signals.
        self.ends_streams_on_stop_signals = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/graphql":
            scope["app"] = self
            assign_request_id(scope)
            await self._graphql_websockets(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def oidc_config(settings: Settings) -> OidcConfig | None:
    """The configured OpenID Connect provider, or None when there is none."""
    if not settings.oidc_issuer:
        return None
    return OidcConfig(
        issuer=settings.oidc_issuer,
        audience=settings.oidc_audience or "",
        jwks_url=settings.oidc_jwks_url,
        algorithms=settings.oidc_algorithms,
        clock_skew_seconds=settings.oidc_clock_skew_seconds,
        token_type=settings.oidc_token_type,
        assurance_claim=settings.oidc_assurance_claim,
        refetch_interval_seconds=settings.oidc_jwks_refetch_seconds,
    )


def oidc_sign_in(settings: Settings) -> OidcSignIn | None:
    """Signing in from a browser through the provider, when a client id is configured."""
    config = oidc_config(settings)
    if config is None or not settings.oidc_client_id:
        return None
    return OidcSignIn(
        config,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        min_assurance_level=settings.min_assurance_level,
        max_token_lifetime_seconds=settings.max_token_lifetime_seconds,
    )


def token_verifier(settings: Settings) -> TokenVerifier:
    """Every configured issuer (OIDC, local), behind the assurance-level requirement."""
    verifiers: dict[str, TokenVerifier] = {}
    config = oidc_config(settings)
    if config is not None:
        oidc = OidcVerifier(config)
        verifiers[oidc.issuer] = oidc
    if settings.local_issuer_enabled:
        if LOCAL_ISSUER in verifiers:
            raise RuntimeError(f"CONGRESS_OIDC_ISSUER cannot be the local issuer {LOCAL_ISSUER}")
        verifiers[LOCAL_ISSUER] = LocalIssuer.load_or_create(settings.signing_key_path)
    if not verifiers:
        raise RuntimeError(
            "No token issuer configured: set CONGRESS_OIDC_ISSUER and CONGRESS_OIDC_AUDIENCE, "
            "or enable the local issuer (CONGRESS_LOCAL_ISSUER=1)."
        )
    # With one issuer there is nothing to route, and its verifier checks `iss` itself.
    verifier = next(iter(verifiers.values())) if len(verifiers) == 1 else IssuerRouter(verifiers)
    return LimitLifetime(
        RequireAssurance(verifier, settings.min_assurance_level),
        settings.max_token_lifetime_seconds,
    )


def create_app(settings: Settings, *, engine: AsyncEngine | None = None) -> CongressApp:
    """The whole HTTP edge. Pass `engine` to share one (tests count its statements)."""
    unsafe = settings.unsafe_in_production()
    if unsafe:
        raise RuntimeError("Refusing to serve in production: " + "; ".join(unsafe) + ".")
    engine = engine or create_engine(
        settings.resolved_database_url,
        # A backstop behind the request's own time budget (graph/request_bounds.py).
        statement_timeout_seconds=settings.request_timeout_seconds + TIME_BUDGET_GRACE_SECONDS,
        sqlite_cache_kib=settings.sqlite_cache_kib,
        sqlite_max_size_mib=settings.sqlite_max_size_mib,
        lock_wait_seconds=settings.lock_wait_seconds,
        pool_wait_seconds=settings.pool_wait_seconds,
        application_name=SERVING_APPLICATION_NAME,
    )
    serving = ServingMark(settings.resolved_database_url)
    sessions = create_session_factory(engine, lock_wait_seconds=settings.lock_wait_seconds)
    verifier = token_verifier(settings)
    terms = TermCatalog()
    live = Live(settings, engine, sessions, terms)
    buckets = Buckets(
        RedisBuckets(settings.redis_url, settings.redis_key_prefix) if settings.redis_url else None
    )
    browser_sessions = BrowserSessions(engine, timedelta(seconds=settings.session_lifetime_seconds))
    rate_limits = RateLimits(settings, buckets, verifier, browser_sessions)
    sign_in = ConnectionSignIn(verifier, sessions, rate_limits.failed_authentications)
    graphql_app = CongressGraphQL(settings, terms, MilestoneWriter(sessions), live, sign_in)
    graphql = rate_limits.around_authentication(
        AuthenticationMiddleware(
            rate_limits.per_user(graphql_app),
            verifier=verifier,
            sessions=sessions,
            graphiql_page=graphql_app.render_graphql_ide if settings.graphiql else None,
            browser_sessions=browser_sessions,
            # Read by the view once it knows whether the document reads data.
            viewer_first=False,
        )
    )
    # The exports answer a token exactly as /graphql does: same verifier, same 401, same
    # rate limits (an export costs EXPORT_COST).
    exports = [
        Middleware(rate_limits.around_authentication),
        Middleware(
            AuthenticationMiddleware,
            verifier=verifier,
            sessions=sessions,
            graphiql_page=None,
            browser_sessions=browser_sessions,
        ),
        Middleware(rate_limits.per_user, cost_before_running=EXPORT_COST),
    ]

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # Difficulties nobody answered in time move up a level while the API serves. Every
        # worker runs the loop; that is safe, since each step claims the difficulty's version.
        escalation = (
            asyncio.create_task(
                escalate_overdue_periodically(
                    sessions,
                    interval_seconds=settings.escalation_interval_seconds,
                    older_than=timedelta(seconds=settings.escalate_after_seconds),
                ),
                name="congress-auto-escalation",
            )
            if settings.escalation_interval_seconds > 0
            else None
        )
        old_garbage = _app.old_garbage if isinstance(_app, CongressApp) else None
        collecting = (
            asyncio.create_task(old_garbage.run(), name="congress-old-garbage")
            if old_garbage is not None
            else None
        )
        background = [task for task in (escalation, collecting) if task is not None]
        # A serving worker's event streams end as soon as it is told to stop, so that none
        # holds the graceful shutdown to its bound (graph/stop_signals.py).
        loop = asyncio.get_running_loop()
        ending_streams: list[asyncio.Task[None]] = []

        def end_streams() -> None:
            ending_streams.append(loop.create_task(live.stop(), name="congress-end-streams"))

        stop_signals = (
            on_stop_signal(loop, end_streams)
            if isinstance(_app, CongressApp) and _app.ends_streams_on_stop_signals
            else nullcontext()
        )
        # The database is in use while the app serves: `congress restore` refuses meanwhile.
        serving.hold()
        try:
            with stop_signals:
                yield
        finally:
            serving.release()
            await asyncio.gather(*ending_streams, return_exceptions=True)
            for task in background:
                task.cancel()
            for task in background:
                with suppress(asyncio.CancelledError):
                    await task
            await live.stop()
            await buckets.close()
            await engine.dispose()

    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = CongressApp(
        graphql_websockets=graphql_app,
        routes=[
            Route("/health", health),
            *observability_routes(settings, engine, buckets),
            Route("/graphql", graphql),
            # GraphiQL's scripts and styles, from the installed package (offline networks).
            *(
                [Mount("/static/graphiql", StaticFiles(directory=GRAPHIQL_ASSETS))]
                if settings.graphiql
                else []
            ),
            Route("/reports/progress.csv", reports.progress_csv, middleware=exports),
            Route("/reports/progress.xlsx", reports.progress_xlsx, middleware=exports),
            *web_routes(
                BrowserSignIn(
                    sessions=sessions,
                    browser_sessions=browser_sessions,
                    verifier=verifier,
                    oidc=oidc_sign_in(settings),
                    local_issuer=(
                        LocalIssuer.load_or_create(settings.signing_key_path)
                        if settings.local_issuer_enabled
                        and settings.environment is not Environment.PRODUCTION
                        else None
                    ),
                    failed_authentications=rate_limits.failed_authentications,
                    production=settings.environment is Environment.PRODUCTION,
                )
            ),
        ],
        # The access log sits just inside the request id and outside anything that refuses.
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(AccessLogMiddleware),
            # Inside the access log, which then records the 503 or 500 it answers.
            Middleware(FailureAnswers),
            Middleware(
                BodyLimit,
                max_body_bytes=settings.max_body_bytes,
                read_timeout_seconds=settings.request_timeout_seconds,
            ),
            Middleware(
                LoadShedding,
                max_in_flight=settings.max_requests_in_flight,
                never_shed=NEVER_SHED_PATHS,
            ),
            Middleware(TimeBudget, seconds=settings.request_timeout_seconds, paths=("/graphql",)),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.rate_limit_buckets = buckets
    app.state.live = live
    return app


def create_app_from_env() -> CongressApp:
    """Factory for `uvicorn --factory` and for every worker process `congress serve` starts:
    the app, its access log on stdout, then the worker's garbage collector set for serving
    it (full collections by OldGarbage, started with the app)."""
    settings = Settings.from_env()
    app = create_app(settings)
    enable_access_log()
    app.old_garbage = tune_for_serving(settings.old_garbage_mib * 2**20)
    app.ends_streams_on_stop_signals = True
    return app
