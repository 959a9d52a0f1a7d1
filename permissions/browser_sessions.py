"""Browser sessions: a cookie that stands for a signed-in official, checked on the server.

The cookie holds a random secret, the session's end and a MAC of both under a key every
worker shares (models/server_keys.py), so a made-up, edited or expired cookie is refused
without a database read. The database keeps the secret's digest, whose it is and until
when: signing out deletes the row, a deactivation deletes all of the user's, and every
request that reads data reads the row and its user again, so a deactivation ends every
session of that user on its next request. A request that reads nothing (`{ __typename }`)
is let in on the cookie alone.

A cookie is sent by the browser with any request to this server, including one a hostile
page makes it send: every request a cookie signs in that may change state (any method but
GET, HEAD and OPTIONS) must also carry the session's CSRF token in `X-CSRF-Token`. The
token is a MAC of the session's secret, read by the app's pages from the non-HttpOnly
`congress_csrf` cookie; another site can neither read it nor set that header.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.requests import cookie_parser

from models.base import utc_now
from models.browser_sessions import BrowserSession
from models.server_keys import server_key
from permissions.authentication import AuthenticationError, RefusalReason, SignIn
from permissions.tokens import base64url, tokens_equal
from permissions.viewer import Viewer

SESSION_COOKIE = "congress_session"
CSRF_COOKIE = "congress_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_KEY_NAME = "browser-session"
_SECRET_BYTES = 32
_MAC_BYTES = 16
# secret.end.mac: base64url, decimal epoch seconds, base64url. Anything else is refused.
_COOKIE_SHAPE = re.compile(r"([A-Za-z0-9_-]{43})\.([0-9]{1,12})\.([A-Za-z0-9_-]{22})")


class CsrfRefused(Exception):
    """A state-changing request signed in by a session cookie lacks the session's token."""


class CredentialKind(StrEnum):
    BEARER = "bearer"
    COOKIE = "cookie"


@dataclass(frozen=True, slots=True)
class Credential:
    """What a request signs in with: its Authorization header, or else its session cookie."""

    kind: CredentialKind
    value: str


def digest(secret: str) -> str:
    """The SHA-256 hex digest under which a secret is kept (never the secret itself)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """What the browser is given at sign-in: the session cookie and its CSRF token."""

    cookie: str
    csrf_token: str
    expires_at: datetime


class BrowserSessions:
    """Starts, checks and ends browser sessions (see the module docstring)."""

    def __init__(self, engine: AsyncEngine, lifetime: timedelta) -> None:
        self._engine = engine
        self.lifetime = lifetime
        self._key: bytes | None = None

    async def _mac_key(self) -> bytes:
        if self._key is None:
            self._key = await server_key(self._engine, SESSION_KEY_NAME)
        return self._key

    @staticmethod
    def _mac(key: bytes, purpose: bytes, text: str) -> str:
        mac = hmac.new(key, purpose + text.encode("ascii"), hashlib.sha256).digest()
        return base64url(mac[:_MAC_BYTES])

    async def secret_of(self, cookie: str | None) -> str | None:
        """The secret of a cookie that is ours and not past its end; no database read."""
        shape = _COOKIE_SHAPE.fullmatch(cookie or "")
        if shape is None:
            return None
        secret, end, mac = shape.groups()
        expected = self._mac(await self._mac_key(), b"session:", f"{secret}.{end}")
        if not tokens_equal(mac, expected) or int(end) <= time.time():
            return None
        return secret

    async def csrf_token(self, secret: str) -> str:
        return self._mac(await self._mac_key(), b"csrf:", secret)

    async def start(self, session: AsyncSession, viewer: Viewer) -> IssuedSession:
        """A new session for `viewer`, committed. Every expired session goes with it."""
        now = utc_now()
        secret = base64url(secrets.token_bytes(_SECRET_BYTES))
        expires_at = (now + self.lifetime).replace(microsecond=0)
        await session.execute(delete(BrowserSession).where(BrowserSession.expires_at <= now))
        session.add(
            BrowserSession(
                secret_digest=digest(secret),
                user_id=viewer.user_id,
                subject=viewer.subject,
                created_at=now,
                expires_at=expires_at,
            )
        )
        await session.commit()
        key = await self._mac_key()
        sealed = f"{secret}.{int(expires_at.timestamp())}"
        return IssuedSession(
            cookie=f"{sealed}.{self._mac(key, b'session:', sealed)}",
            csrf_token=self._mac(key, b"csrf:", secret),
            expires_at=expires_at,
        )

    async def verify(self, cookie: str, method: str, csrf_header: str | None) -> SignIn:
        """The session's sign-in, or AuthenticationError (401), or CsrfRefused (403); no
        database read (`subject_of` reads whose session it is, when the request reads data)."""
        secret = await self.secret_of(cookie)
        if secret is None:
            raise AuthenticationError(
                RefusalReason.INVALID_TOKEN, "the session has ended: sign in again"
            )
        if method not in SAFE_METHODS and not tokens_equal(
            csrf_header or "", await self.csrf_token(secret)
        ):
            raise CsrfRefused
        # The end sealed in the cookie is the row's (`start`), to the second.
        end = int(cookie.split(".")[1])
        return SignIn(expires_at=float(end), session_digest=digest(secret))

    @staticmethod
    async def subject_of(session: AsyncSession, session_digest: str) -> str:
        """Whose the session is, or AuthenticationError when it was ended (signed out, the
        user deactivated) or has expired."""
        subject = await session.scalar(
            select(BrowserSession.subject).where(
                BrowserSession.secret_digest == session_digest,
                BrowserSession.expires_at > utc_now(),
            )
        )
        if subject is None:
            raise AuthenticationError(
                RefusalReason.INVALID_TOKEN, "the session has ended: sign in again"
            )
        return subject

    async def end(self, session: AsyncSession, cookie: str | None) -> None:
        """Sign out: the session's row goes, so the cookie signs nobody in anywhere."""
        secret = await self.secret_of(cookie)
        if secret is not None:
            await session.execute(
                delete(BrowserSession).where(BrowserSession.secret_digest == digest(secret))
            )
            await session.commit()


def session_cookie(cookie_header: str | None) -> str | None:
    """The session cookie among a request's cookies, if it has one."""
    if not cookie_header:
        return None
    return cookie_parser(cookie_header).get(SESSION_COOKIE) or None


def credential_of(authorization: str | None, cookie_header: str | None) -> Credential | None:
    """What a request signs in with: its bearer token (any non-empty Authorization header),
    else its session cookie; None when neither. Authentication follows the same rule."""
    if authorization:
        return Credential(CredentialKind.BEARER, authorization)
    cookie = session_cookie(cookie_header)
    return None if cookie is None else Credential(CredentialKind.COOKIE, cookie)
