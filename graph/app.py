"""create_app(settings) -> the Starlette application; its lifespan owns the engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from config import Settings
from graph.authentication import SESSION_STATE_KEY, VIEWER_STATE_KEY, AuthenticationMiddleware
from graph.context import Context
from graph.request_ids import REQUEST_ID_STATE_KEY, RequestIdMiddleware
from graph.schema import build_schema
from models.database import create_engine, create_session_factory
from permissions.tokens import LocalIssuer, TokenVerifier


class CongressGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI app, with the Context built from what authentication put in the state."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,
        )
        self._settings = settings

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        return Context(
            settings=self._settings,
            session=getattr(request.state, SESSION_STATE_KEY),
            viewer=getattr(request.state, VIEWER_STATE_KEY),
            request_id=getattr(request.state, REQUEST_ID_STATE_KEY),
        )


def token_verifier(settings: Settings) -> TokenVerifier:
    if not settings.local_issuer_enabled:
        raise RuntimeError(
            "No token issuer configured: enable the local issuer (CONGRESS_LOCAL_ISSUER=1)."
        )
    return LocalIssuer.load_or_create(settings.signing_key_path)


def create_app(settings: Settings, *, engine: AsyncEngine | None = None) -> Starlette:
    """The whole HTTP edge. Pass `engine` to share one (tests count its statements)."""
    engine = engine or create_engine(settings.resolved_database_url)
    sessions = create_session_factory(engine)
    graphql_app = CongressGraphQL(settings)
    graphql = AuthenticationMiddleware(
        graphql_app,
        verifier=token_verifier(settings),
        sessions=sessions,
        graphiql_page=graphql_app.render_graphql_ide if settings.graphiql else None,
    )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[Route("/health", health), Route("/graphql", graphql)],
        middleware=[Middleware(RequestIdMiddleware)],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    return app


def create_app_from_env() -> Starlette:
    """Factory for `uvicorn --factory` and for every worker process `congress serve` starts."""
    return create_app(Settings.from_env())
