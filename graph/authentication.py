"""ASGI middleware that signs in every request to /graphql and /reports before any
resolver or export runs: by its bearer token, or else by the web app's session cookie
(permissions/browser_sessions.py).

The credential is checked without the database; the user is read (`signed_in_viewer`)
only for a request that reads data: at once for an export, and by the GraphQL view once
it knows the document (graph/app.py), so that `{ __typename }` touches no database.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from config import Environment, Settings
from graph.errors import CSRF_FAILED
from graph.request_bounds import send_refusal
from graph.request_ids import REQUEST_ID_STATE_KEY
from permissions.authentication import (
    AuthenticationError,
    RefusalReason,
    SignIn,
    active_viewer,
    record_refusal,
    verify_bearer,
)
from permissions.browser_sessions import (
    CSRF_HEADER,
    BrowserSessions,
    CredentialKind,
    CsrfRefused,
    credential_of,
)
from permissions.tokens import TokenVerifier
from permissions.viewer import Viewer

logger = logging.getLogger("congress.authentication")
GraphiQLPage = Callable[[Request], Awaitable[Response]]
SESSION_STATE_KEY = "session"
# The credential that checked out (permissions/authentication.py SignIn).
SIGN_IN_STATE_KEY = "sign_in"
# The user behind it, once read (`signed_in_viewer`).
VIEWER_STATE_KEY = "viewer"
# When the request's token expires (epoch seconds): an event stream it opened ends then.
EXPIRES_AT_STATE_KEY = "token_expires_at"
REALM = "congress-monitor"


class AuthenticationMiddleware:
    """Answers 401 with a JSON error unless the bearer token, or without one the session
    cookie, checks out; 403 (CSRF_FAILED) to a cookie's state-changing request without the
    session's CSRF token. Neither reads the database.

    On success the request's database session (not yet connected) and its SignIn travel
    in `scope["state"]`, and the session is closed when the response is done. With
    `viewer_first` the user is read here too (401 if unknown or inactive); otherwise the
    app calls `signed_in_viewer` when it knows it needs the user. GraphiQL's HTML page
    itself needs no token.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: TokenVerifier,
        sessions: async_sessionmaker[AsyncSession],
        graphiql_page: GraphiQLPage | None,
        browser_sessions: BrowserSessions | None,
        viewer_first: bool = True,
    ) -> None:
        self._app = app
        self._verifier = verifier
        self._sessions = sessions
        self._graphiql_page = graphiql_page
        self._browser_sessions = browser_sessions
        self._viewer_first = viewer_first

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            # Signed in at connection_init, by the same code (graph/live/connections.py):
            # a close here, before the handshake is accepted, would reach the client as a
            # bare HTTP 403 with no reason.
            await self._app(scope, receive, send)
            return
        if self._graphiql_page is not None and _asks_for_graphiql(scope):
            # The page is static HTML; the queries it then sends carry the pasted token.
            response = await self._graphiql_page(Request(scope, receive))
            await response(scope, receive, send)
            return
        # A session connects on its first statement: a request that reads nothing never
        # takes a pooled connection.
        async with self._sessions() as session:
            state = scope.setdefault("state", {})
            state[SESSION_STATE_KEY] = session
            try:
                sign_in = await self._verify(scope)
            except CsrfRefused:
                await send_refusal(
                    send,
                    403,
                    "This request needs the page's X-CSRF-Token header: reload the page",
                    {"code": CSRF_FAILED},
                )
                return
            except AuthenticationError as error:
                await refuse_sign_in(scope, send, error)
                return
            state[SIGN_IN_STATE_KEY] = sign_in
            state[EXPIRES_AT_STATE_KEY] = sign_in.expires_at
            if self._viewer_first:
                try:
                    await signed_in_viewer(scope)
                except AuthenticationError as error:
                    await refuse_sign_in(scope, send, error)
                    return
            await self._app(scope, receive, send)

    async def _verify(self, scope: Scope) -> SignIn:
        headers = Headers(scope=scope)
        credential = credential_of(headers.get("authorization"), headers.get("cookie"))
        if credential is None or credential.kind is CredentialKind.BEARER:
            return await verify_bearer(
                None if credential is None else credential.value, self._verifier
            )
        if self._browser_sessions is None:  # a route without browser sessions (none today)
            raise AuthenticationError(RefusalReason.MISSING_TOKEN, "missing bearer token")
        return await self._browser_sessions.verify(
            credential.value, scope["method"], headers.get(CSRF_HEADER)
        )


async def signed_in_viewer(scope: Scope) -> Viewer:
    """The user behind the request that AuthenticationMiddleware let in, read once (the
    active user and their assignments; for a cookie, its session row first), or
    AuthenticationError when there is none any more: deactivated, signed out, expired."""
    state: dict[str, Any] = scope["state"]
    viewer: Viewer | None = state.get(VIEWER_STATE_KEY)
    if viewer is not None:
        return viewer
    sign_in: SignIn = state[SIGN_IN_STATE_KEY]
    session: AsyncSession = state[SESSION_STATE_KEY]
    if sign_in.subject is not None:
        subject = sign_in.subject
    else:  # a session cookie: whose it is, and whether it was ended, is in the database
        subject = await BrowserSessions.subject_of(session, sign_in.session_digest or "")
    viewer = await active_viewer(session, subject)
    state[VIEWER_STATE_KEY] = viewer
    return viewer


async def refuse_sign_in(scope: Scope, send: Send, error: AuthenticationError) -> None:
    """The 401 for a refused sign-in, recorded in the audit log when a provider vouched for
    the identity (`record_refusal`)."""
    state = scope["state"]
    request_id = state.get(REQUEST_ID_STATE_KEY)
    session: AsyncSession = state[SESSION_STATE_KEY]
    try:
        await record_refusal(session, error, request_id)
    except Exception:
        # The answer is 401 whatever happens to the record of it.
        logger.exception("request %s: could not record a refused login", request_id)
        await session.rollback()
    if error.reason is RefusalReason.INVALID_TOKEN:
        # The verifier's reason (PyJWT's words) is for the log; see refusal_message.
        logger.info("request %s: token refused: %s", request_id, error.message)
    await _unauthorized(error, send, detailed=_refusals_are_detailed(scope))


def _asks_for_graphiql(scope: Scope) -> bool:
    """A browser opening /graphql, with or without the query GraphiQL keeps in the URL
    (`?query=`, `?q=`): GraphQL clients ask for JSON, a browser's navigation for HTML and
    sends no bearer token (a request with one is an API call, whatever it accepts)."""
    if scope["method"] != "GET":
        return False
    headers = Headers(scope=scope)
    return "text/html" in headers.get("accept", "") and "authorization" not in headers


def www_authenticate(error: AuthenticationError) -> str:
    """The `WWW-Authenticate` challenge for a refusal (RFC 6750 §3, RFC 9470 §3)."""
    if error.reason is RefusalReason.MISSING_TOKEN:
        # RFC 6750 §3.1: a request with no credentials gets no error code.
        return f'Bearer realm="{REALM}"'
    if error.reason is RefusalReason.INSUFFICIENT_ASSURANCE:
        # RFC 9470: the client should authenticate the user again at one of `acr_values`.
        return (
            'Bearer error="insufficient_user_authentication", '
            'error_description="A higher authentication level is required", '
            f'acr_values="{error.required_assurance_level}"'
        )
    # Unknown and inactive users get this same challenge as a bad token: nothing told apart.
    return f'Bearer realm="{REALM}", error="invalid_token"'


def _refusals_are_detailed(scope: Scope) -> bool:
    """Outside production a 401 says why a token was refused, in the token library's words;
    in production those words stay in the log. Unknown settings count as production."""
    settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
    return isinstance(settings, Settings) and settings.environment is not Environment.PRODUCTION


def refusal_message(error: AuthenticationError, *, detailed: bool) -> str:
    """The 401's message: ours for every reason; the verifier's text only when `detailed`."""
    if error.reason is RefusalReason.INVALID_TOKEN and not detailed:
        return "Unauthenticated: invalid or expired token"
    return f"Unauthenticated: {error.message}"


async def _unauthorized(error: AuthenticationError, send: Send, *, detailed: bool) -> None:
    await send_refusal(
        send,
        401,
        refusal_message(error, detailed=detailed),
        {"code": "UNAUTHENTICATED"},
        headers=[(b"www-authenticate", www_authenticate(error).encode("latin-1"))],
    )
