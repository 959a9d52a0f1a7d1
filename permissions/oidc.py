"""OpenID Connect: verify tokens signed by an external identity provider.

`OidcVerifier` accepts a JWT only if it is signed with one of the provider's published keys
by an allowed asymmetric algorithm, and names this service's issuer, audience and a current
validity window. `JwksCache` holds the provider's keys: fetched on first use from the JWKS
URL (given, or read from the discovery document), refetched when a token names an unknown
key id (a rotation) but at most once every `refetch_interval_seconds`, and kept when the
provider cannot be reached.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
from jwt.types import JWKDict

from permissions.tokens import (
    REQUIRED_CLAIMS,
    TokenError,
    VerifiedIdentity,
    identity_from_claims,
    unverified_issuer,
)

logger = logging.getLogger("congress.oidc")

# Signature algorithms whose verification key can be public. A symmetric (HS*) or "none"
# algorithm would let anyone holding the published key, or no key, mint tokens.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
DEFAULT_ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
DEFAULT_CLOCK_SKEW_SECONDS = 30.0
DEFAULT_ASSURANCE_CLAIM = "acr"
# An unknown key id costs the provider at most one request per interval, whatever the load.
DEFAULT_REFETCH_INTERVAL_SECONDS = 10.0
# Known keys are refreshed this often anyway, so a key the provider withdrew stops working.
DEFAULT_MAX_KEY_AGE_SECONDS = 3600.0
DISCOVERY_PATH = "/.well-known/openid-configuration"
HTTP_TIMEOUT = httpx.Timeout(5.0)
# A discovery document or key set is a few kilobytes; refuse to buffer anything much larger.
MAX_DOCUMENT_BYTES = 256 * 1024
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

# Which JWK can verify which algorithm: key type, and the curves allowed for it.
_KEY_SHAPES: Mapping[str, tuple[str, frozenset[str] | None]] = {
    **{name: ("RSA", None) for name in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")},
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
}


class OidcConfigurationError(ValueError):
    """The OpenID Connect settings are unsafe or incomplete; the service must not start."""


class ProviderError(Exception):
    """The identity provider answered with something that is not a usable document."""


class ProviderRefused(ProviderError):
    """The provider answered 400 to the request itself (RFC 6749 §5.2: a used, unknown or
    expired code, a wrong PKCE verifier)."""


@dataclass(frozen=True)
class OidcConfig:
    """Which provider to trust and what its tokens must say. Validated when built."""

    issuer: str
    audience: str
    # None: read `jwks_uri` from the issuer's discovery document.
    jwks_url: str | None = None
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    clock_skew_seconds: float = DEFAULT_CLOCK_SKEW_SECONDS
    # e.g. "at+jwt" (RFC 9068); None accepts any `typ` header.
    token_type: str | None = None
    assurance_claim: str = DEFAULT_ASSURANCE_CLAIM
    refetch_interval_seconds: float = DEFAULT_REFETCH_INTERVAL_SECONDS
    max_key_age_seconds: float = DEFAULT_MAX_KEY_AGE_SECONDS

    def __post_init__(self) -> None:
        if not self.issuer:
            raise OidcConfigurationError("an issuer is required (CONGRESS_OIDC_ISSUER)")
        if not self.audience:
            raise OidcConfigurationError("an audience is required (CONGRESS_OIDC_AUDIENCE)")
        require_secure_url(self.issuer, "the issuer", OidcConfigurationError)
        if self.jwks_url is not None:
            require_secure_url(self.jwks_url, "the JWKS URL", OidcConfigurationError)
        if not self.algorithms:
            raise OidcConfigurationError("at least one signature algorithm must be allowed")
        refused = [name for name in self.algorithms if name not in ASYMMETRIC_ALGORITHMS]
        if refused:
            raise OidcConfigurationError(
                f"refusing algorithms {', '.join(refused)}: only asymmetric ones "
                f"({', '.join(sorted(ASYMMETRIC_ALGORITHMS))}) can be allowed"
            )
        if self.clock_skew_seconds < 0 or self.refetch_interval_seconds < 0:
            raise OidcConfigurationError("clock skew and refetch interval cannot be negative")
        if self.token_type == "" or not self.assurance_claim:
            raise OidcConfigurationError("token type and assurance claim cannot be empty")

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + DISCOVERY_PATH


def require_secure_url(url: str, what: str, error: type[Exception]) -> None:
    """Keys must come over TLS; plain http is allowed only to this machine (tests, sidecars)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return
    raise error(f"{what} must be an https:// URL (http:// only on loopback), got {url!r}")


class JwksCache:
    """The provider's signing keys by key id, refetched sparingly and never lost to an outage."""

    def __init__(self, config: OidcConfig) -> None:
        self._config = config
        self._jwks_url = config.jwks_url
        self._jwks: dict[str, JWKDict] = {}
        self._keys: dict[tuple[str, str], jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._last_attempt_at: float | None = None
        self._inflight: asyncio.Task[None] | None = None

    async def key(self, key_id: str, algorithm: str) -> jwt.PyJWK:
        """The key `key_id` bound to `algorithm`, or TokenError if the provider has none."""
        if key_id not in self._jwks:
            await self._refresh()
        elif self._is_stale():
            self._start_refresh()  # in the background: the current keys still answer
        jwk = self._jwks.get(key_id)
        if jwk is None:
            raise TokenError("invalid token: unknown signing key")
        cached = self._keys.get((key_id, algorithm))
        if cached is None:
            cached = self._keys[(key_id, algorithm)] = _bind_key(jwk, algorithm)
        return cached

    def _is_stale(self) -> bool:
        fetched_at = self._fetched_at
        return fetched_at is not None and (
            time.monotonic() - fetched_at >= self._config.max_key_age_seconds
        )

    async def _refresh(self) -> None:
        task = self._start_refresh()
        if task is not None:
            # Shielded: a request that gives up must not cancel the fetch others wait for.
            await asyncio.shield(task)

    def _start_refresh(self) -> asyncio.Task[None] | None:
        """The fetch in flight (joined, never doubled), a new one if allowed, else None."""
        if self._inflight is None:
            last = self._last_attempt_at
            if last is not None and time.monotonic() - last < self._config.refetch_interval_seconds:
                return None
            self._inflight = asyncio.get_running_loop().create_task(self._fetch())
        return self._inflight

    async def _fetch(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
                jwks_url = self._jwks_url or await self._discover(client)
                jwks = signing_keys(await get_json(client, jwks_url))
        except (httpx.HTTPError, ProviderError) as error:
            self._log_failure(f"{type(error).__name__}: {error}")
            if self._config.jwks_url is None:
                self._jwks_url = None  # the URL may have moved: discover it again next time
        except Exception:  # never let a surprise take down the requests waiting on us
            self._log_failure("unexpected error", exc_info=True)
        else:
            self._jwks_url = jwks_url
            self._jwks, self._keys = jwks, {}
            self._fetched_at = time.monotonic()
            logger.info("Fetched %d signing keys from %s", len(jwks), jwks_url)
        finally:
            self._last_attempt_at = time.monotonic()
            self._inflight = None

    async def _discover(self, client: httpx.AsyncClient) -> str:
        return (await discover(client, self._config, "jwks_uri"))[0]

    def _log_failure(self, reason: str, *, exc_info: bool = False) -> None:
        logger.warning(
            "Could not refresh the signing keys of %s (%s); keeping the %d cached",
            self._config.issuer,
            reason,
            len(self._jwks),
            exc_info=exc_info,
        )


def signing_keys(document: Mapping[str, Any]) -> dict[str, JWKDict]:
    """The public signing keys of a JWKS document, by key id; other entries are skipped."""
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise ProviderError("JWKS document has no 'keys' list")
    keys: dict[str, JWKDict] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        key_id = entry.get("kid")
        # Keys are chosen by id only, and never a symmetric ("oct") or encryption key.
        if not isinstance(key_id, str) or not key_id or key_id in keys:
            continue
        if entry.get("kty") in {"RSA", "EC", "OKP"} and entry.get("use", "sig") == "sig":
            keys[key_id] = entry
    if not keys:
        raise ProviderError("JWKS document holds no signing key with a key id")
    return keys


def _bind_key(jwk: JWKDict, algorithm: str) -> jwt.PyJWK:
    """The JWK as a key for exactly `algorithm`, if its type, curve and `alg` allow that."""
    key_type, curves = _KEY_SHAPES[algorithm]
    if (
        jwk.get("kty") != key_type
        or (curves is not None and jwk.get("crv") not in curves)
        or jwk.get("alg", algorithm) != algorithm
    ):
        raise TokenError("invalid token: algorithm does not fit its signing key")
    try:
        # Bound to the token's (allowed) algorithm rather than PyJWKSet's guess from the key
        # type, which would make an RSA key without `alg` refuse PS256.
        return jwt.PyJWK(jwk, algorithm=algorithm)
    except jwt.PyJWTError as error:
        raise TokenError(f"invalid token: unusable signing key ({error})") from error


async def discover(client: httpx.AsyncClient, config: OidcConfig, *names: str) -> list[str]:
    """The URLs the provider's discovery document gives for `names` (each https, or http on
    loopback), or ProviderError."""
    document = await get_json(client, config.discovery_url)
    # OpenID Connect Discovery 1.0 §4.3: the document must name exactly our issuer.
    if document.get("issuer") != config.issuer:
        raise ProviderError(f"discovery document names issuer {document.get('issuer')!r}")
    urls = []
    for name in names:
        url = document.get(name)
        if not isinstance(url, str):
            raise ProviderError(f"discovery document has no {name}")
        require_secure_url(url, name, ProviderError)
        urls.append(url)
    return urls


async def get_json(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    async with client.stream("GET", url, headers={"Accept": "application/json"}) as response:
        return await _json_object(response, f"GET {url}")


async def post_form(
    client: httpx.AsyncClient, url: str, form: dict[str, str], auth: tuple[str, str] | None
) -> dict[str, Any]:
    """POST a form (a token request, RFC 6749 §4.1.3), with HTTP Basic client credentials
    when given; the provider's JSON answer, or ProviderError."""
    async with client.stream(
        "POST", url, data=form, auth=auth, headers={"Accept": "application/json"}
    ) as response:
        return await _json_object(response, f"POST {url}")


async def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    """The JSON object a provider answered, read up to MAX_DOCUMENT_BYTES."""
    if response.status_code == 400:
        raise ProviderRefused(f"{what} answered 400")
    if response.status_code != 200:
        raise ProviderError(f"{what} answered {response.status_code}")
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_DOCUMENT_BYTES:
            raise ProviderError(f"{what} answered more than {MAX_DOCUMENT_BYTES} bytes")
    try:
        document = json.loads(body)
    except ValueError as error:
        raise ProviderError(f"{what} answered invalid JSON") from error
    if not isinstance(document, dict):
        raise ProviderError(f"{what} answered JSON that is not an object")
    return document


def _media_type(value: str) -> str:
    # RFC 7515 §4.1.9 / RFC 8725 §3.11: "application/" may be omitted; compare without case.
    return value.lower().removeprefix("application/")


class OidcVerifier:
    """Verifies tokens from one OpenID Connect provider (see the module docstring)."""

    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self._keys = JwksCache(config)

    @property
    def issuer(self) -> str:
        return self.config.issuer

    async def verify(self, token: str) -> VerifiedIdentity:
        config = self.config
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise TokenError(f"invalid token: {error}") from error
        # Everything that can be refused without keys is refused before they are looked up,
        # so garbage never makes us call the provider.
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in config.algorithms:
            raise TokenError("invalid token: signature algorithm not accepted")
        if config.token_type is not None:
            token_type = header.get("typ")
            if not isinstance(token_type, str) or _media_type(token_type) != _media_type(
                config.token_type
            ):
                raise TokenError(f"invalid token: type must be {config.token_type}")
        key_id = header.get("kid")
        if not isinstance(key_id, str) or not key_id:
            raise TokenError("invalid token: no key id")
        if unverified_issuer(token) != config.issuer:
            raise TokenError("invalid token: wrong issuer")
        key = await self._keys.key(key_id, algorithm)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=config.audience,
                issuer=config.issuer,
                leeway=config.clock_skew_seconds,
                options={"require": REQUIRED_CLAIMS, "enforce_minimum_key_length": True},
            )
        except jwt.PyJWTError as error:
            raise TokenError(f"invalid token: {error}") from error
        return identity_from_claims(claims, config.assurance_claim)
