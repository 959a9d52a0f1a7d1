"""A real identity provider on loopback: discovery, JWKS, rotation, outages, and the
authorization-code flow with PKCE (authorize, token) for signing in from a browser.

`JwksServer` runs a small Starlette app under uvicorn in a background thread on
127.0.0.1 and a free port. Tests publish and rotate `SigningKey`s, count the requests
each path received, make the provider slow or failing, or stop it (connection refused).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/jwks"
AUTHORIZE_PATH = "/authorize"
TOKEN_PATH = "/token"
ID_TOKEN_SECONDS = 300


@dataclass
class Grant:
    """What /authorize remembered for a code, for /token to check."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str
    subject: str
    acr: str


PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class SigningKey:
    """A provider's private key, its key id and the algorithm it signs with."""

    private_key: PrivateKey
    algorithm: str
    kid: str = field(default_factory=lambda: uuid.uuid4().hex)
    # Whether the published JWK names its `alg` (many providers leave it out).
    publish_alg: bool = True

    def public_jwk(self) -> dict[str, Any]:
        public_key = self.private_key.public_key()
        jwk: dict[str, Any]
        if isinstance(public_key, rsa.RSAPublicKey):
            jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            jwk = ECAlgorithm.to_jwk(public_key, as_dict=True)
        else:
            jwk = OKPAlgorithm.to_jwk(public_key, as_dict=True)
        jwk.update({"kid": self.kid, "use": "sig"})
        if self.publish_alg:
            jwk["alg"] = self.algorithm
        return jwk

    def sign(self, claims: Mapping[str, Any], **headers: Any) -> str:
        return jwt.encode(
            dict(claims),
            self.private_key,
            algorithm=self.algorithm,
            headers={"kid": self.kid, **headers},
        )


def rsa_key(algorithm: str = "RS256", *, publish_alg: bool = True) -> SigningKey:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey(private_key, algorithm, publish_alg=publish_alg)


def ec_key() -> SigningKey:
    return SigningKey(ec.generate_private_key(ec.SECP256R1()), "ES256")


def ed25519_key() -> SigningKey:
    return SigningKey(ed25519.Ed25519PrivateKey.generate(), "EdDSA")


class JwksServer:
    """The provider: serves whatever keys are published now, as a real HTTP server."""

    def __init__(self, *keys: SigningKey) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.jwks_url = self.issuer + JWKS_PATH
        # What the discovery document claims as issuer (a test may make it lie).
        self.discovery_issuer = self.issuer
        self.keys: list[SigningKey] = list(keys)
        self.requests: Counter[str] = Counter()
        self.failure_status: int | None = None
        self.delay_seconds = 0.0
        # The browser flow: who the person at /authorize is, at which level, which client
        # (and secret) the provider knows, and the codes it gave out, each usable once.
        self.signed_in_subject = ""
        self.signed_in_acr = "2"
        self.client_id = "congress-web"
        self.client_secret: str | None = None
        self.grants: dict[str, Grant] = {}
        self.token_refusals: list[str] = []
        self._lock = threading.Lock()
        app = Starlette(
            routes=[
                Route(DISCOVERY_PATH, self._discovery),
                Route(JWKS_PATH, self._jwks),
                Route(AUTHORIZE_PATH, self._authorize),
                Route(TOKEN_PATH, self._token, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def publish(self, *keys: SigningKey) -> None:
        """Replace the published key set (a rotation, or withdrawing a key)."""
        self.keys = list(keys)

    def count(self, path: str) -> int:
        with self._lock:
            return self.requests[path]

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert self._thread.is_alive(), "the JWKS server did not start"
            assert time.monotonic() < deadline, "the JWKS server did not start within 10 s"
            time.sleep(0.01)

    def stop(self) -> None:
        """Shut down and close the socket: from now on, connections are refused."""
        self._server.should_exit = True
        self._thread.join(timeout=10)

    async def _answer(self, path: str, document: dict[str, Any]) -> Response:
        with self._lock:
            self.requests[path] += 1
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if self.failure_status is not None:
            return Response("provider trouble", status_code=self.failure_status)
        return JSONResponse(document)

    async def _discovery(self, _request: Request) -> Response:
        return await self._answer(
            DISCOVERY_PATH,
            {
                "issuer": self.discovery_issuer,
                "jwks_uri": self.jwks_url,
                "authorization_endpoint": self.issuer + AUTHORIZE_PATH,
                "token_endpoint": self.issuer + TOKEN_PATH,
            },
        )

    async def _authorize(self, request: Request) -> Response:
        """The person signs in at once as `signed_in_subject`, and is sent back with a code."""
        with self._lock:
            self.requests[AUTHORIZE_PATH] += 1
        query = request.query_params
        if (
            query.get("response_type") != "code"
            or query.get("client_id") != self.client_id
            or query.get("code_challenge_method") != "S256"
            or not query.get("code_challenge")
            or query.get("scope") != "openid"
        ):
            return Response("bad authorization request", status_code=400)
        code = uuid.uuid4().hex
        self.grants[code] = Grant(
            client_id=query["client_id"],
            redirect_uri=query["redirect_uri"],
            code_challenge=query["code_challenge"],
            nonce=query.get("nonce", ""),
            subject=self.signed_in_subject,
            acr=self.signed_in_acr,
        )
        back = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        return RedirectResponse(back, status_code=302)

    async def _token(self, request: Request) -> Response:
        """RFC 6749 §4.1.3 with RFC 7636: the code once, for its client, redirect URI and
        PKCE verifier; then an ID token signed with the first published key."""
        with self._lock:
            self.requests[TOKEN_PATH] += 1
        form = {
            name: values[0] for name, values in parse_qs((await request.body()).decode()).items()
        }
        grant = self.grants.pop(str(form.get("code", "")), None)
        verifier = str(form.get("code_verifier", ""))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        refusal = None
        if grant is None:
            refusal = "unknown or used code"
        elif form.get("client_id") != grant.client_id or form.get("redirect_uri") != (
            grant.redirect_uri
        ):
            refusal = "wrong client or redirect_uri"
        elif challenge.rstrip(b"=").decode() != grant.code_challenge:
            refusal = "PKCE verifier does not match"
        elif self.client_secret is not None and request.headers.get("authorization") != (
            "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        ):
            refusal = "wrong client secret"
        if refusal is not None or grant is None:
            self.token_refusals.append(refusal or "")
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        id_token = self.keys[0].sign(
            {
                "iss": self.issuer,
                "aud": grant.client_id,
                "sub": grant.subject,
                "iat": now,
                "exp": now + ID_TOKEN_SECONDS,
                "nonce": grant.nonce,
                "acr": grant.acr,
            }
        )
        return JSONResponse(
            {"id_token": id_token, "access_token": "opaque", "token_type": "Bearer"}
        )

    async def _jwks(self, _request: Request) -> Response:
        return await self._answer(JWKS_PATH, {"keys": [key.public_jwk() for key in self.keys]})


@contextmanager
def running_jwks_server(*keys: SigningKey) -> Iterator[JwksServer]:
    server = JwksServer(*keys)
    server.start()
    try:
        yield server
    finally:
        server.stop()
