"""Bearer tokens: who is asking, as proven by a signed JWT.

`TokenVerifier` is the seam for identity providers. The local issuer below signs tokens
with an Ed25519 key kept in the data directory; it serves development, the demo and the
tests, and is off in production unless explicitly enabled.
"""

from __future__ import annotations

import os
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
CLOCK_SKEW_SECONDS = 30


class TokenError(Exception):
    """The token is missing, malformed, badly signed, expired or not for us."""


@dataclass(frozen=True, slots=True)
class VerifiedIdentity:
    subject: str
    claims: Mapping[str, Any]


class TokenVerifier(Protocol):
    def verify(self, token: str) -> VerifiedIdentity:
        """Return the identity a token proves, or raise TokenError."""
        ...


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
            "acr": LOCAL_ASSURANCE_LEVEL,
        }
        return jwt.encode(
            claims, self._private_key, algorithm=LOCAL_ALGORITHM, headers={"typ": "JWT"}
        )

    def verify(self, token: str) -> VerifiedIdentity:
        try:
            claims = jwt.decode(
                token,
                self._public_key,
                # Only our own algorithm: never "none", never a symmetric one.
                algorithms=[LOCAL_ALGORITHM],
                audience=LOCAL_AUDIENCE,
                issuer=LOCAL_ISSUER,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as error:
            raise TokenError(f"invalid token: {error}") from error
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise TokenError("invalid token: no subject")
        return VerifiedIdentity(subject=subject, claims=claims)


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
