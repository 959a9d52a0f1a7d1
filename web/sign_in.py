"""Signing in and out from a browser (README, "Signing in from a browser").

- `/sign-in`: the way in. With an OpenID Connect client configured, a button to the
  provider; outside production with the local issuer, a list of the active users, each
  signed in with one press (development and the demo only: the page lists no one, and
  the form is refused, in production).
- `/sign-in/oidc` → the provider → `/sign-in/callback`: the authorization-code flow with
  PKCE (permissions/oidc_sign_in.py). The attempt's secrets stay in the database, used
  once; its `state` is also bound to this browser by a cookie, so a callback forged or
  replayed into another browser signs no one in.
- `/sign-out` (POST, with the session's CSRF token): the session's row goes at once.

Every way in ends the same: the identity checked as every request checks it (issuer,
audience, assurance level, lifetime, an active account), then a session
(permissions/browser_sessions.py) and its two cookies.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from html import escape
from typing import Literal
from urllib.parse import parse_qs, urlencode

import httpx
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from graph.rate_limits import FailedAuthentications
from models.base import utc_now
from models.browser_sessions import SignInAttempt
from models.tree import Committee
from models.users import Assignment, User
from permissions.authentication import (
    AuthenticationError,
    RefusalReason,
    record_refusal,
    refusal_of,
)
from permissions.browser_sessions import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    BrowserSessions,
    IssuedSession,
    digest,
)
from permissions.oidc import LOOPBACK_HOSTS, ProviderError
from permissions.oidc_sign_in import OidcSignIn, SignInChallenge
from permissions.tokens import LocalIssuer, TokenError, TokenVerifier, tokens_equal
from permissions.viewer import load_active_viewer
from web.pages import bilingual, message_page, page

logger = logging.getLogger("congress.sign_in")

# The form's token before anyone is signed in (login CSRF), and the OIDC attempt's state.
FORM_COOKIE = "congress_sign_in_form"
STATE_COOKIE = "congress_sign_in_state"
SIGN_IN_PATH = "/sign-in"
# How long a person has at the provider before the attempt is forgotten.
ATTEMPT_LIFETIME = timedelta(minutes=10)
# The local issuer's token for a development sign-in lives only as long as the sign-in.
DEV_TOKEN_SECONDS = 60
# Most users the development page lists.
DEV_USERS_LISTED = 60
MAX_RETURN_PATH = 512


def safe_return_path(value: str | None) -> str:
    """Where to go once signed in: a path on this server, never another site."""
    if (
        not value
        or not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or len(value) > MAX_RETURN_PATH
        or any(ord(character) < 0x20 or character == "\\" for character in value)
    ):
        return "/"
    return value


def _from_this_machine(request: Request) -> bool:
    return request.client is not None and request.client.host in LOOPBACK_HOSTS


def _same_origin(request: Request) -> bool:
    """A form POST from one of this server's pages: its Origin, when sent, is ours."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin == f"{request.url.scheme}://{request.url.netloc}"


async def _form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (bounded by BodyLimit), first values."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {name: values[0] for name, values in parse_qs(body).items()}


class BrowserSignIn:
    """The sign-in routes (see the module docstring)."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        browser_sessions: BrowserSessions,
        verifier: TokenVerifier,
        oidc: OidcSignIn | None,
        local_issuer: LocalIssuer | None,
        failed_authentications: FailedAuthentications | None,
        production: bool,
    ) -> None:
        self._sessions = sessions
        self._browser_sessions = browser_sessions
        self._verifier = verifier
        self._oidc = oidc
        # Set only where the development page exists (never in production).
        self._local_issuer = local_issuer
        # A refused or started sign-in spends the address's quota of failed
        # authentications, as a 401 does: nobody can try identities, or fill the table of
        # attempts, faster than that.
        self._failed_authentications = failed_authentications
        self._production = production

    def _secure(self, request: Request) -> bool:
        """Cookies are `Secure` in production always, and elsewhere except on this machine
        over plain http (development)."""
        return (
            self._production
            or request.url.scheme == "https"
            or request.url.hostname not in LOOPBACK_HOSTS
        )

    def _set_attempt_cookie(
        self,
        request: Request,
        response: Response,
        name: str,
        value: str,
        same_site: Literal["lax", "strict"],
    ) -> None:
        """A cookie binding a sign-in under way to this browser: only for /sign-in…, and
        only as long as the attempt lives."""
        response.set_cookie(
            name,
            value,
            max_age=int(ATTEMPT_LIFETIME.total_seconds()),
            path=SIGN_IN_PATH,
            httponly=True,
            secure=self._secure(request),
            samesite=same_site,
        )

    async def _quota_spent(self, request: Request) -> Response | None:
        """Charge one attempt to the client's address; a page saying to wait once the
        address has spent its quota."""
        failures = self._failed_authentications
        if failures is None:
            return None
        charge = await failures.charge(request.scope)
        if charge.allowed:
            return None
        response = message_page(
            429,
            ("Thử quá nhiều lần", "Too many attempts"),
            ("Hãy đợi một phút rồi thử lại.", "Please wait a minute and try again."),
            retry_to=SIGN_IN_PATH,
        )
        response.headers["Retry-After"] = str(charge.seconds_until_not_empty or 1)
        return response

    def _dev_sign_in_allowed(self, request: Request) -> bool:
        """The development page signs anyone in as anyone: only for a browser on this
        machine, even on a development server listening on the network."""
        return self._local_issuer is not None and _from_this_machine(request)

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [
            Route(SIGN_IN_PATH, self.sign_in_page, methods=["GET"]),
            Route("/sign-out", self.sign_out, methods=["POST"]),
        ]
        if self._oidc is not None:
            routes += [
                Route("/sign-in/oidc", self.start_oidc, methods=["GET"]),
                Route("/sign-in/callback", self.oidc_callback, methods=["GET"]),
            ]
        if self._local_issuer is not None:
            routes.append(Route("/sign-in/dev", self.dev_sign_in, methods=["POST"]))
        return routes

    # -- the page ---------------------------------------------------------------------

    async def sign_in_page(self, request: Request) -> Response:
        return_to = safe_return_path(request.query_params.get("next"))
        parts = [f"      <h1>{bilingual('Đăng nhập', 'Sign in')}</h1>"]
        if self._oidc is not None:
            href = "/sign-in/oidc?" + urlencode({"next": return_to})
            label = bilingual("Đăng nhập bằng định danh điện tử", "Sign in with your digital ID")
            parts.append(f'      <p><a class="button primary" href="{href}">{label}</a></p>')
        form_token = secrets.token_urlsafe(32)
        dev = self._dev_sign_in_allowed(request)
        if dev:
            parts.append(await self._dev_users(return_to, form_token))
        if len(parts) == 1:
            parts.append(
                "      <p>"
                + bilingual(
                    "Máy chủ này chưa cấu hình đăng nhập từ trình duyệt.",
                    "Signing in from a browser is not configured on this server "
                    "(CONGRESS_OIDC_CLIENT_ID).",
                )
                + "</p>"
            )
        response = page("Đăng nhập", "\n".join(parts))
        if dev:
            self._set_attempt_cookie(request, response, FORM_COOKIE, form_token, "strict")
        return response

    async def _dev_users(self, return_to: str, form_token: str) -> str:
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(User.subject, User.display_name, Assignment.role, Committee.code)
                    .join(Assignment, Assignment.user_id == User.id)
                    .join(Committee, Committee.id == Assignment.committee_id)
                    .where(User.is_active)
                    .order_by(Committee.path, User.subject)
                    .limit(DEV_USERS_LISTED)
                )
            ).all()
        items = []
        for subject, name, role, code in rows:
            items.append(
                f"""        <li><form method="post" action="/sign-in/dev">
          <input type="hidden" name="subject" value="{escape(subject)}" />
          <input type="hidden" name="form_token" value="{form_token}" />
          <input type="hidden" name="next" value="{escape(return_to)}" />
          <button type="submit"><span class="who">{escape(name)}</span>
            <span class="where">{escape(role.value)} · {escape(code)} · {escape(subject)}</span></button>
        </form></li>"""
            )
        heading = bilingual("Người dùng thử (chỉ khi phát triển)", "Demo users (development only)")
        return (
            f'      <h2>{heading}</h2>\n      <ul class="users">\n'
            + "\n".join(items)
            + ("\n      </ul>")
        )

    # -- development ------------------------------------------------------------------

    async def dev_sign_in(self, request: Request) -> Response:
        if self._local_issuer is None or not _from_this_machine(request):
            return Response(status_code=404)
        form = await _form(request)
        cookie_token = request.cookies.get(FORM_COOKIE, "")
        if (
            not _same_origin(request)
            or not cookie_token
            or not tokens_equal(form.get("form_token", ""), cookie_token)
        ):
            return await self._quota_spent(request) or _expired_attempt()
        # The same checks as every request: a token of the local issuer, verified by the
        # server's own verifier, then the account.
        token = self._local_issuer.issue(form.get("subject", ""), DEV_TOKEN_SECONDS)
        return await self._sign_in(request, token, safe_return_path(form.get("next")))

    # -- OpenID Connect ---------------------------------------------------------------

    async def start_oidc(self, request: Request) -> Response:
        assert self._oidc is not None, "routed only with a client"
        return_to = safe_return_path(request.query_params.get("next"))
        spent = await self._quota_spent(request)
        if spent is not None:
            return spent
        try:
            url, challenge = await self._oidc.begin(_callback_url(request))
        except (ProviderError, httpx.HTTPError) as error:
            logger.warning("the identity provider could not be asked: %s", error)
            return _provider_unavailable()
        async with self._sessions() as session:
            now = utc_now()
            await session.execute(delete(SignInAttempt).where(SignInAttempt.expires_at <= now))
            session.add(
                SignInAttempt(
                    state_digest=digest(challenge.state),
                    code_verifier=challenge.code_verifier,
                    nonce=challenge.nonce,
                    return_to=return_to,
                    expires_at=now + ATTEMPT_LIFETIME,
                )
            )
            await session.commit()
        response = RedirectResponse(url, status_code=303)
        # SameSite=Lax: sent back when the provider sends the browser to the callback.
        self._set_attempt_cookie(request, response, STATE_COOKIE, challenge.state, "lax")
        return response

    async def oidc_callback(self, request: Request) -> Response:
        assert self._oidc is not None, "routed only with a client"
        parameters = request.query_params
        if parameters.get("error"):
            return message_page(
                400,
                ("Chưa đăng nhập", "Not signed in"),
                (
                    "Việc đăng nhập đã bị hủy hoặc bị từ chối tại ứng dụng định danh.",
                    "The sign-in was cancelled or refused at the identity provider.",
                ),
                retry_to=SIGN_IN_PATH,
            )
        state, code = parameters.get("state", ""), parameters.get("code", "")
        cookie_state = request.cookies.get(STATE_COOKIE, "")
        if not state or not code or not tokens_equal(state, cookie_state):
            return await self._quota_spent(request) or _expired_attempt()
        async with self._sessions() as session:
            # Claimed by deleting it: a second use of the same callback finds nothing.
            claimed = (
                await session.execute(
                    delete(SignInAttempt)
                    .where(
                        SignInAttempt.state_digest == digest(state),
                        SignInAttempt.expires_at > utc_now(),
                    )
                    .returning(
                        SignInAttempt.code_verifier, SignInAttempt.nonce, SignInAttempt.return_to
                    )
                )
            ).first()
            await session.commit()
        if claimed is None:
            return await self._quota_spent(request) or _expired_attempt()
        code_verifier, nonce, return_to = claimed
        challenge = SignInChallenge(state=state, code_verifier=code_verifier, nonce=nonce)
        try:
            identity = await self._oidc.finish(code, _callback_url(request), challenge)
        except TokenError as error:
            logger.info("a sign-in's ID token was refused: %s", error)
            return await self._refused(request, refusal_of(error))
        except (ProviderError, httpx.HTTPError) as error:
            logger.warning("the identity provider's token endpoint failed: %s", error)
            return _provider_unavailable()
        response = await self._session_for(request, identity.subject, return_to)
        response.delete_cookie(STATE_COOKIE, path=SIGN_IN_PATH)
        return response

    # -- both ways in -----------------------------------------------------------------

    async def _sign_in(self, request: Request, token: str, return_to: str) -> Response:
        try:
            identity = await self._verifier.verify(token)
        except TokenError as error:
            return await self._refused(request, refusal_of(error))
        return await self._session_for(request, identity.subject, return_to)

    async def _session_for(self, request: Request, subject: str, return_to: str) -> Response:
        async with self._sessions() as session:
            viewer = await load_active_viewer(session, subject)
            if viewer is None:
                return await self._refused(
                    request,
                    AuthenticationError(
                        RefusalReason.UNKNOWN_OR_INACTIVE_USER,
                        "no active account for this identity",
                        subject=subject,
                    ),
                )
            # A session this browser still holds ends here: one browser, one session.
            await self._browser_sessions.end(session, request.cookies.get(SESSION_COOKIE))
            issued = await self._browser_sessions.start(session, viewer)
        response = RedirectResponse(return_to, status_code=303)
        _set_session_cookies(response, issued, self._browser_sessions, self._secure(request))
        response.delete_cookie(FORM_COOKIE, path=SIGN_IN_PATH)
        return response

    async def _refused(self, request: Request, error: AuthenticationError) -> Response:
        spent = await self._quota_spent(request)
        if spent is not None:
            return spent
        async with self._sessions() as session:
            try:
                await record_refusal(session, error, request.headers.get("x-request-id"))
            except Exception:
                logger.exception("could not record a refused sign-in")
        if error.reason is RefusalReason.INSUFFICIENT_ASSURANCE:
            return message_page(
                403,
                ("Cần định danh mức 2", "Level 2 identity required"),
                (
                    "Tài khoản định danh điện tử của bạn cần được xác thực ở mức 2 để dùng "
                    "hệ thống này. Hãy đăng nhập lại bằng định danh mức 2.",
                    "Your digital identity must be verified at level 2 to use this system. "
                    "Sign in again at level 2.",
                ),
                retry_to=SIGN_IN_PATH,
            )
        if error.reason is RefusalReason.UNKNOWN_OR_INACTIVE_USER:
            return message_page(
                403,
                ("Không có tài khoản", "No account"),
                (
                    "Danh tính này chưa có tài khoản đang hoạt động. Hãy liên hệ quản trị "
                    "viên của cấp ủy mình.",
                    "There is no active account for this identity. Ask the administrator "
                    "of your committee.",
                ),
                retry_to=SIGN_IN_PATH,
            )
        return message_page(
            400,
            ("Không thể xác minh đăng nhập", "The sign-in could not be verified"),
            ("Hãy thử đăng nhập lại.", "Please sign in again."),
            retry_to=SIGN_IN_PATH,
        )

    # -- signing out ------------------------------------------------------------------

    async def sign_out(self, request: Request) -> Response:
        cookie = request.cookies.get(SESSION_COOKIE)
        secret = await self._browser_sessions.secret_of(cookie)
        if secret is not None:
            given = request.headers.get(CSRF_HEADER) or (await _form(request)).get("csrf", "")
            if not tokens_equal(given, await self._browser_sessions.csrf_token(secret)):
                return message_page(
                    403,
                    ("Chưa đăng xuất", "Not signed out"),
                    (
                        "Yêu cầu đăng xuất không đến từ trang của hệ thống. Hãy tải lại trang.",
                        "The request did not come from this system's page. Reload the page.",
                    ),
                    retry_to="/",
                )
            async with self._sessions() as session:
                await self._browser_sessions.end(session, cookie)
        response = RedirectResponse(SIGN_IN_PATH, status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")
        return response


def _callback_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}{SIGN_IN_PATH}/callback"


def _set_session_cookies(
    response: Response, issued: IssuedSession, sessions: BrowserSessions, secure: bool
) -> None:
    max_age = int(sessions.lifetime.total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        issued.cookie,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=secure,
        samesite="lax",
    )
    # Read by the app's pages to send as X-CSRF-Token: not HttpOnly, never sent cross-site.
    response.set_cookie(
        CSRF_COOKIE,
        issued.csrf_token,
        max_age=max_age,
        path="/",
        httponly=False,
        secure=secure,
        samesite="strict",
    )


def _expired_attempt() -> Response:
    return message_page(
        400,
        ("Phiên đăng nhập đã hết hạn", "This sign-in has expired"),
        (
            "Lần đăng nhập này đã hết hạn hoặc đã được dùng. Hãy bắt đầu lại.",
            "This sign-in has expired or was already used. Start again.",
        ),
        retry_to=SIGN_IN_PATH,
    )


def _provider_unavailable() -> Response:
    response = message_page(
        503,
        ("Chưa kết nối được ứng dụng định danh", "The identity provider cannot be reached"),
        (
            "Hãy thử lại sau một phút.",
            "Please try again in a minute.",
        ),
        retry_to=SIGN_IN_PATH,
    )
    response.headers["Retry-After"] = "60"
    return response
