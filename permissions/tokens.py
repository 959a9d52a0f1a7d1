"""Bearer tokens: who is asking, as proven by a signed JWT.

`TokenVerifier` is the seam for identity providers: `permissions.oidc.OidcVerifier` checks
tokens from an OpenID Connect provider, and the local issuer below signs tokens with an
Ed25519 key kept in the data directory; it serves development, the demo and the tests, and
is off in production unless explicitly enabled. `IssuerRouter` accepts tokens from several
issuers, and `RequireAssurance` refuses identities proven at too low an assurance level.
"""

from __future__ import annotations

import base64
import hmac
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

LOCAL_ISSUER = "urn:congress-monitor:local-issuer"
LOCAL_AUDIENCE = "congress-monitor"
LOCAL_ALGORITHM = "EdDSA"
# The assurance level the local issuer vouches for: the same as a national level-2 identity.
LOCAL_ASSURANCE_LEVEL = "2"
LOCAL_ASSURANCE_CLAIM = "acr"
CLOCK_SKEW_SECONDS = 30
# Every token must say who issued it, for whom, about whom, when, and until when.
REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud"]

# A level is a small decimal number, alone or as the last ':' or '/' segment of a URI
# ("2", "urn:example:loa:2", "https://idp.example/loa/2"). ASCII digits only: str.isdigit
# would also take "²" and other scripts' digits.
_ASSURANCE_LEVEL_PATTERN = re.compile(r"(?:\A|.*[:/])([0-9]{1,6})\Z", re.DOTALL)


def base64url(raw: bytes) -> str:
    """RFC 4648 §5 base64url without padding, as JWTs, PKCE and our cookies write bytes."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def tokens_equal(given: str, expected: str) -> bool:
    """Compare a secret a client sent with ours in constant time; any text (non-ASCII
    included, which `hmac.compare_digest` refuses as str) is simply unequal."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class TokenError(Exception):
    """The token is missing, malformed, badly signed, expired or not for us."""


class InsufficientAssurance(TokenError):
    """The token is valid but proves the identity at a lower level than required."""

    def __init__(self, subject: str, required_level: int) -> None:
        super().__init__(f"authentication at assurance level {required_level} or higher required")
        self.subject = subject
        self.required_level = required_level


@dataclass(frozen=True, slots=True)
class VerifiedIdentity:
    """What a verified token proves: who, according to whom, and how strongly."""

    subject: str
    issuer: str
    # None when the token names no level this service understands (treated as too low).
    assurance_level: int | None
    claims: Mapping[str, Any]


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> VerifiedIdentity:
        """Return the identity a token proves, or raise TokenError."""
        ...


def assurance_level_from_claim(value: object) -> int | None:
    """Read an assurance level from a claim value, or None if it names no level.

    Accepted: a non-negative int, a decimal string ("2"), or a string whose last ':' or
    '/' segment is one ("urn:example:loa:2"). Anything else (a bool, a float, a list, a
    named level such as "substantial") is None, so it never meets a requirement.
    """
    if isinstance(value, bool):  # bool is an int subclass: True must not read as level 1
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str):
        match = _ASSURANCE_LEVEL_PATTERN.match(value)
        return int(match.group(1)) if match else None
    return None


def unverified_issuer(token: str) -> str:
    """The `iss` a token claims, read without checking anything: only to pick a verifier."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise TokenError(f"invalid token: {error}") from error
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise TokenError("invalid token: no issuer")
    return issuer


class IssuerRouter:
    """Accepts tokens from several issuers, each checked only by that issuer's verifier.

    The unverified `iss` claim only chooses the verifier; the verifier then checks the
    signature with its own keys and the issuer again, so one issuer's key is never tried
    on a token claiming to come from another.
    """

    def __init__(self, verifiers: Mapping[str, TokenVerifier]) -> None:
        self._verifiers = dict(verifiers)

    async def verify(self, token: str) -> VerifiedIdentity:
        verifier = self._verifiers.get(unverified_issuer(token))
        if verifier is None:
            raise TokenError("invalid token: unknown issuer")
        return await verifier.verify(token)


class RequireAssurance:
    """Passes only identities proven at `min_level` or higher (RFC 9470 step-up otherwise)."""

    def __init__(self, verifier: TokenVerifier, min_level: int) -> None:
        self._verifier = verifier
        self.min_level = min_level

    async def verify(self, token: str) -> VerifiedIdentity:
        identity = await self._verifier.verify(token)
        if identity.assurance_level is None or identity.assurance_level < self.min_level:
            raise InsufficientAssurance(identity.subject, self.min_level)
        return identity


class LimitLifetime:
    """Passes only tokens whose whole lifetime (`exp - iat`) is at most `max_seconds`: a
    token stolen from a phone stops working soon, whoever issued it for how long."""

    def __init__(self, verifier: TokenVerifier, max_seconds: int) -> None:
        self._verifier = verifier
        self.max_seconds = max_seconds

    async def verify(self, token: str) -> VerifiedIdentity:
        identity = await self._verifier.verify(token)
        issued_at, expires_at = identity.claims.get("iat"), identity.claims.get("exp")
        if not isinstance(issued_at, int | float) or not isinstance(expires_at, int | float):
            raise TokenError("invalid token: no lifetime")
        if expires_at - issued_at > self.max_seconds:
            raise TokenError(
                f"invalid token: it lives {expires_at - issued_at:.0f} s, longer than the "
                f"{self.max_seconds} s allowed"
            )
        return identity


class LocalIssuer:
    """Issues and verifies tokens signed with a key that never leaves the data directory."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self._public_key: Ed25519PublicKey = private_key.public_key()

    @classmethod
    def load_or_create(cls, key_path: Path) -> LocalIssuer:
        if not key_path.exists():
            _write_new_key(key_path)
        private_key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(private_key, Ed25519PrivateKey):
            raise TokenError(f"{key_path} does not hold an Ed25519 private key")
        return cls(private_key)

    def issue(self, subject: str, ttl_seconds: int, *, now: float | None = None) -> str:
        issued_at = int(time.time() if now is None else now)
        claims = {
            "iss": LOCAL_ISSUER,
            "aud": LOCAL_AUDIENCE,
            "sub": subject,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + ttl_seconds,
            LOCAL_ASSURANCE_CLAIM: LOCAL_ASSURANCE_LEVEL,
        }
        return jwt.encode(
            claims, self._private_key, algorithm=LOCAL_ALGORITHM, headers={"typ": "JWT"}
        )

    async def verify(self, token: str) -> VerifiedIdentity:
        try:
            claims = jwt.decode(
                token,
                self._public_key,
                # Only our own algorithm: never "none", never a symmetric one.
                algorithms=[LOCAL_ALGORITHM],
                audience=LOCAL_AUDIENCE,
                issuer=LOCAL_ISSUER,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as error:
            raise TokenError(f"invalid token: {error}") from error
        return identity_from_claims(claims, LOCAL_ASSURANCE_CLAIM)


def identity_from_claims(claims: Mapping[str, Any], assurance_claim: str) -> VerifiedIdentity:
    """The identity in claims whose signature, issuer, audience and times are checked."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise TokenError("invalid token: no subject")
    return VerifiedIdentity(
        subject=subject,
        issuer=str(claims["iss"]),
        assurance_level=assurance_level_from_claim(claims.get(assurance_claim)),
        claims=claims,
    )


def _write_new_key(key_path: Path) -> None:
    key_path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Owner-only from the first byte, and never a half-written key if two processes race.
    temporary_path = key_path.with_suffix(f".{os.getpid()}.tmp")
    descriptor = os.open(temporary_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as key_file:
        key_file.write(pem)
    try:
        os.link(temporary_path, key_path)
    except FileExistsError:
        pass  # another process won the race; its key is the one everyone uses
    finally:
        temporary_path.unlink()
