"""Turn an Authorization header into a Viewer, or say why not (always before any resolver).

In two steps: the credential is checked without the database (`verify_bearer`, or
`BrowserSessions.verify` for a cookie), which refuses a missing, made-up or expired one;
then, only when the request reads data, the user is read (`load_viewer`), which refuses
an unknown or inactive one. A request that reads nothing touches no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit import Actor, AuditEntry, append_audit
from models.base import utc_now
from permissions.tokens import InsufficientAssurance, TokenError, TokenVerifier
from permissions.viewer import Viewer, load_active_viewer

LOGIN_REFUSED = "login.refused"
REFUSAL_RECORD_INTERVAL = timedelta(hours=1)


class RefusalReason(StrEnum):
    """Why a request was not authenticated, for machines (the HTTP answer, the audit log)."""

    MISSING_TOKEN = "missing_token"
    INVALID_TOKEN = "invalid_token"
    INSUFFICIENT_ASSURANCE = "insufficient_assurance"
    UNKNOWN_OR_INACTIVE_USER = "unknown_or_inactive_user"


class AuthenticationError(Exception):
    """The request does not prove an active user; the HTTP edge answers 401.

    `subject` is set once a token has been verified (so it is the provider's word, not the
    caller's); `required_assurance_level` is set for INSUFFICIENT_ASSURANCE.
    """

    def __init__(
        self,
        reason: RefusalReason,
        message: str,
        *,
        subject: str | None = None,
        required_assurance_level: int | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.subject = subject
        self.required_assurance_level = required_assurance_level


def refusal_of(error: TokenError) -> AuthenticationError:
    """Why a verifier's refusal of a token refuses the request: too low an assurance level
    (with the level required), or an invalid token."""
    if isinstance(error, InsufficientAssurance):
        return AuthenticationError(
            RefusalReason.INSUFFICIENT_ASSURANCE,
            str(error),
            subject=error.subject,
            required_assurance_level=error.required_level,
        )
    return AuthenticationError(RefusalReason.INVALID_TOKEN, str(error))


@dataclass(frozen=True, slots=True)
class SignIn:
    """A credential that checked out without the database: a bearer token's verified
    subject, or a browser session's secret digest (its subject is in the database), and
    when it ends (epoch seconds: a long-lived connection it opened ends then)."""

    expires_at: float
    subject: str | None = None
    session_digest: str | None = None

    @property
    def identity_key(self) -> str:
        """Who this is as far as is known before the database is read (rate limits)."""
        if self.subject is not None:
            return f"subject:{self.subject}"
        return f"session:{self.session_digest}"


async def verify_bearer(authorization_header: str | None, verifier: TokenVerifier) -> SignIn:
    """The bearer token's sign-in, or AuthenticationError; no database read."""
    subject, expires_at = await _verified_subject(authorization_header, verifier)
    return SignIn(expires_at=expires_at, subject=subject)


async def _verified_subject(
    authorization_header: str | None, verifier: TokenVerifier
) -> tuple[str, float]:
    scheme, _, token = (authorization_header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError(RefusalReason.MISSING_TOKEN, "missing bearer token")
    try:
        identity = await verifier.verify(token.strip())
    except TokenError as error:
        raise refusal_of(error) from error
    expires_at = identity.claims.get("exp")
    if not isinstance(expires_at, int | float):
        raise AuthenticationError(RefusalReason.INVALID_TOKEN, "the token has no expiry")
    return identity.subject, float(expires_at)


async def active_viewer(session: AsyncSession, subject: str) -> Viewer:
    """The active user with this subject, or AuthenticationError (401)."""
    viewer = await load_active_viewer(session, subject)
    if viewer is None:
        # One message for unknown and inactive users: the answer must not tell them apart.
        raise AuthenticationError(
            RefusalReason.UNKNOWN_OR_INACTIVE_USER,
            "no active account for this identity",
            subject=subject,
        )
    return viewer


async def authenticate(
    authorization_header: str | None, verifier: TokenVerifier, session: AsyncSession
) -> Viewer:
    return (await authenticate_until(authorization_header, verifier, session))[0]


async def authenticate_until(
    authorization_header: str | None, verifier: TokenVerifier, session: AsyncSession
) -> tuple[Viewer, float]:
    """Both steps at once, for a connection that signs in once (a websocket), with the
    time (epoch seconds) the token expires."""
    subject, expires_at = await _verified_subject(authorization_header, verifier)
    return await active_viewer(session, subject), expires_at


async def record_refusal(
    session: AsyncSession, error: AuthenticationError, request_id: str | None
) -> None:
    """Keep a refused login in the audit log when a provider vouched for the identity.

    A verified identity without an active account, or below the required assurance level,
    is worth an administrator's attention. Missing and invalid tokens are not recorded:
    anyone can send those, and logging them would let anyone fill the audit log. A verified
    identity retrying in a loop is recorded once per subject and hour, for the same reason.
    """
    if error.subject is None:
        return
    recently = await session.scalar(
        select(AuditEntry.id)
        .where(
            AuditEntry.committee_id.is_(None),
            AuditEntry.action == LOGIN_REFUSED,
            AuditEntry.actor_subject == error.subject,
            AuditEntry.occurred_at > utc_now() - REFUSAL_RECORD_INTERVAL,
        )
        .limit(1)
    )
    if recently is not None:
        return
    after: dict[str, object] = {"reason": error.reason.value}
    if error.required_assurance_level is not None:
        after["requiredLevel"] = error.required_assurance_level
    append_audit(
        session,
        Actor(user_id=None, subject=error.subject, request_id=request_id),
        action=LOGIN_REFUSED,
        committee_id=None,
        after=after,
    )
    await session.commit()
