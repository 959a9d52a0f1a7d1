"""Signing in from a browser with OpenID Connect: the authorization-code flow with PKCE.

`OidcSignIn.begin` makes what one attempt needs (RFC 6749 §10.12 `state`, RFC 7636 PKCE
verifier and S256 challenge, the ID token's `nonce`) and the provider's authorization URL;
the caller keeps the secrets on the server and binds the attempt to the browser. `finish`
exchanges the code at the token endpoint (with the verifier, and the client secret when
the provider requires one) and checks the ID token as the API checks a bearer token: the
provider's keys and algorithms, issuer, audience (here, this client), times, the nonce,
the assurance level and the token's lifetime. The account itself is checked by the caller,
as for every request (`load_active_viewer`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote_plus, urlencode

import httpx

from permissions.oidc import (
    HTTP_TIMEOUT,
    OidcConfig,
    OidcVerifier,
    ProviderError,
    ProviderRefused,
    discover,
    post_form,
)
from permissions.tokens import (
    LimitLifetime,
    RequireAssurance,
    TokenError,
    TokenVerifier,
    VerifiedIdentity,
    base64url,
    tokens_equal,
)

SCOPE = "openid"


@dataclass(frozen=True, slots=True)
class SignInChallenge:
    """One attempt's secrets: kept on the server until its callback, used once."""

    state: str
    code_verifier: str
    nonce: str


@dataclass(frozen=True, slots=True)
class ProviderEndpoints:
    authorization: str
    token: str


def _random() -> str:
    return secrets.token_urlsafe(32)


def code_challenge(code_verifier: str) -> str:
    """RFC 7636 §4.2, S256: BASE64URL(SHA256(verifier)) without padding."""
    return base64url(hashlib.sha256(code_verifier.encode("ascii")).digest())


class OidcSignIn:
    """The browser's way in through the configured provider (see the module docstring)."""

    def __init__(
        self,
        config: OidcConfig,
        *,
        client_id: str,
        client_secret: str | None,
        min_assurance_level: int,
        max_token_lifetime_seconds: int,
    ) -> None:
        self.config = config
        self.client_id = client_id
        self._client_secret = client_secret
        # The ID token is for this client: its audience is the client id.
        id_tokens = OidcVerifier(replace(config, audience=client_id, token_type=None))
        self._id_tokens: TokenVerifier = LimitLifetime(
            RequireAssurance(id_tokens, min_assurance_level), max_token_lifetime_seconds
        )
        self._endpoints: ProviderEndpoints | None = None

    async def endpoints(self) -> ProviderEndpoints:
        """The provider's authorization and token endpoints, from its discovery document
        (read once; ProviderError or httpx.HTTPError when it cannot be read)."""
        if self._endpoints is None:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
                authorization, token = await discover(
                    client, self.config, "authorization_endpoint", "token_endpoint"
                )
            self._endpoints = ProviderEndpoints(authorization, token)
        return self._endpoints

    async def begin(self, redirect_uri: str) -> tuple[str, SignInChallenge]:
        """The URL to send the browser to, and the attempt's secrets."""
        challenge = SignInChallenge(state=_random(), code_verifier=_random(), nonce=_random())
        parameters = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPE,
            "state": challenge.state,
            "nonce": challenge.nonce,
            "code_challenge": code_challenge(challenge.code_verifier),
            "code_challenge_method": "S256",
        }
        endpoints = await self.endpoints()
        separator = "&" if "?" in endpoints.authorization else "?"
        return endpoints.authorization + separator + urlencode(parameters), challenge

    async def finish(
        self, code: str, redirect_uri: str, challenge: SignInChallenge
    ) -> VerifiedIdentity:
        """The identity the provider vouches for, or TokenError (InsufficientAssurance for
        a level too low; the code refused), or ProviderError / httpx.HTTPError when the
        provider cannot be asked."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.client_id,
            "code_verifier": challenge.code_verifier,
        }
        # RFC 6749 §2.3.1: each form-encoded before they are joined for HTTP Basic.
        auth = (
            (quote_plus(self.client_id), quote_plus(self._client_secret))
            if self._client_secret
            else None
        )
        endpoints = await self.endpoints()
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
            try:
                answer = await post_form(client, endpoints.token, form, auth)
            except ProviderRefused as error:
                # The code is used, unknown, or not this verifier's (PKCE): no sign-in.
                raise TokenError(f"the provider refused the code: {error}") from error
        id_token = answer.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise ProviderError("the token endpoint answered no id_token")
        identity = await self._id_tokens.verify(id_token)
        nonce: Any = identity.claims.get("nonce")
        if not isinstance(nonce, str) or not tokens_equal(nonce, challenge.nonce):
            raise TokenError("invalid token: the nonce is not this sign-in's")
        return identity
