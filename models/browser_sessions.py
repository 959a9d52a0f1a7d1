"""Who is signed in from a browser, kept on the server: a session ends the moment its row
does (signing out), and every request reads its user again (a deactivation counts at once).

Only digests of the secrets are stored: a copy of the database signs nobody in.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime, utc_now

# A SHA-256 digest in hex.
DIGEST_LENGTH = 64


class BrowserSession(Base):
    """A signed-in browser: the digest of its cookie's secret, whose it is, until when."""

    __tablename__ = "browser_session"

    secret_digest: Mapped[str] = mapped_column(String(DIGEST_LENGTH), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    subject: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class SignInAttempt(Base):
    """An OpenID Connect sign-in under way: what the callback must match (RFC 6749 §10.12
    state, RFC 7636 PKCE verifier, the ID token's nonce), used once."""

    __tablename__ = "sign_in_attempt"

    state_digest: Mapped[str] = mapped_column(String(DIGEST_LENGTH), primary_key=True)
    code_verifier: Mapped[str] = mapped_column(String(128))
    nonce: Mapped[str] = mapped_column(String(64))
    # Where to go once signed in: a path on this server.
    return_to: Mapped[str] = mapped_column(String(512))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
