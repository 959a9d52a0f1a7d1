"""A real identity provider's key endpoints on loopback: discovery, JWKS, rotation, outages.

`JwksServer` runs a small Starlette app under uvicorn in a background thread on
127.0.0.1 and a free port. Tests publish and rotate `SigningKey`s, count the requests
each path received, make the provider slow or failing, or stop it (connection refused).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/jwks"

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
        self._lock = threading.Lock()
        app = Starlette(
            routes=[Route(DISCOVERY_PATH, self._discovery), Route(JWKS_PATH, self._jwks)]
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
            DISCOVERY_PATH, {"issuer": self.discovery_issuer, "jwks_uri": self.jwks_url}
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
