"""OpenID Connect tokens, checked against a real JWKS endpoint served on loopback.

The HTTP tests drive the app as a client would and run on SQLite and PostgreSQL (through
`demo_world`); the key-cache tests talk to the verifier directly and need no database.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy.ext.asyncio import AsyncSession

from config import Settings
from graph.app import create_app, token_verifier
from models import Role
from models.demo import CENTRAL_CODE
from permissions.authentication import AuthenticationError, RefusalReason, authenticate
from permissions.oidc import (
    JwksCache,
    OidcConfig,
    OidcConfigurationError,
    OidcVerifier,
    ProviderError,
    signing_keys,
)
from permissions.tokens import (
    LOCAL_AUDIENCE,
    LOCAL_ISSUER,
    TokenError,
    assurance_level_from_claim,
)
from tests.api import app_client
from tests.conftest import INACTIVE_VIEWER, DemoWorld, demo_user
from tests.jwks_server import (
    DISCOVERY_PATH,
    JWKS_PATH,
    JwksServer,
    SigningKey,
    ec_key,
    ed25519_key,
    rsa_key,
    running_jwks_server,
)

AUDIENCE = "https://api.congress.example"
VIEWER_QUERY = "{ viewer { subject } }"
INVALID_TOKEN_CHALLENGE = 'Bearer realm="congress-monitor", error="invalid_token"'


def step_up_challenge(level: int = 2) -> str:
    return (
        'Bearer error="insufficient_user_authentication", '
        'error_description="A higher authentication level is required", '
        f'acr_values="{level}"'
    )


# The provider's keys, one per accepted algorithm; the PS256 key's JWK names no `alg`.
RSA_KEY = rsa_key("RS256")
PSS_KEY = rsa_key("PS256", publish_alg=False)
EC_KEY = ec_key()
ED_KEY = ed25519_key()
ADMIN = demo_user(Role.ADMIN, CENTRAL_CODE)


def claims_for(issuer: str, subject: str = ADMIN, **changes: Any) -> dict[str, Any]:
    """Valid claims for `subject`; a change to None drops that claim."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": subject,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "acr": "2",
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def hs256_signed_with_public_key(key: SigningKey, claims: dict[str, Any]) -> str:
    """The key-confusion attack: HMAC with the provider's *public* key as the secret."""
    public_pem = key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def unsigned(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, None, algorithm="none", headers={"kid": RSA_KEY.kid})  # type: ignore[arg-type]


def with_subject_swapped(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = demo_user(Role.VIEWER, CENTRAL_CODE)
    return f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"


@pytest.fixture(scope="module")
def provider() -> Iterator[JwksServer]:
    """A provider whose keys no test changes (tests that rotate keys start their own)."""
    with running_jwks_server(RSA_KEY, PSS_KEY, EC_KEY, ED_KEY) as server:
        yield server


@pytest.fixture
def fresh_provider() -> Iterator[JwksServer]:
    with running_jwks_server(RSA_KEY, ED_KEY) as server:
        yield server


@asynccontextmanager
async def api(
    world: DemoWorld, server: JwksServer, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The app on the demo database, trusting `server` (and the local issuer if asked)."""
    base = Settings(
        data_dir=world.settings.data_dir,  # the demo world's local-issuer key, if enabled
        database_url=world.database_url,
        local_issuer_enabled=False,
        oidc_issuer=server.issuer,
        oidc_audience=AUDIENCE,
    )
    async with app_client(base.with_(**settings), world.engine) as client:
        yield client


async def ask(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(
        "/graphql", json={"query": VIEWER_QUERY}, headers={"Authorization": f"Bearer {token}"}
    )


def assert_refused(response: httpx.Response, challenge: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == challenge
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


def assert_viewer(response: httpx.Response, subject: str = ADMIN) -> None:
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"viewer": {"subject": subject}}}


# --- accepted ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [RSA_KEY, PSS_KEY, EC_KEY, ED_KEY], ids=lambda key: key.algorithm)
async def test_token_from_the_provider_identifies_the_viewer(
    demo_world: DemoWorld, provider: JwksServer, key: SigningKey
) -> None:
    async with api(demo_world, provider) as client:
        assert_viewer(await ask(client, key.sign(claims_for(provider.issuer))))


@pytest.mark.parametrize(
    "claim", ["exp", "nbf", "iat"], ids=["expired", "not-yet-valid", "issued-in-the-future"]
)
async def test_clock_skew_is_tolerated_within_the_window(
    demo_world: DemoWorld, provider: JwksServer, claim: str
) -> None:
    # 20 s on the wrong side, inside the default 30 s window.
    offset = -20 if claim == "exp" else 20
    claims = claims_for(provider.issuer)
    claims[claim] = int(time.time()) + offset
    token = RSA_KEY.sign(claims)
    async with api(demo_world, provider) as client:
        assert_viewer(await ask(client, token))


# --- rejected tokens -----------------------------------------------------------------------

TokenMaker = Callable[[str], str]  # issuer -> token


def without(claim: str) -> TokenMaker:
    def make(issuer: str) -> str:
        claims = claims_for(issuer)
        del claims[claim]
        return RSA_KEY.sign(claims)

    return make


def ago(seconds: int) -> int:
    return int(time.time()) - seconds


# name -> (token for the provider's issuer, why it must be refused)
REJECTED_TOKENS: dict[str, tuple[TokenMaker, str]] = {
    "alg-none": (lambda issuer: unsigned(claims_for(issuer)), "algorithm not accepted"),
    "hs256-signed-with-public-key": (
        lambda issuer: hs256_signed_with_public_key(RSA_KEY, claims_for(issuer)),
        "algorithm not accepted",
    ),
    "wrong-issuer": (
        lambda issuer: RSA_KEY.sign(claims_for("https://other-idp.example")),
        "wrong issuer",
    ),
    "wrong-audience": (
        lambda issuer: RSA_KEY.sign(claims_for(issuer, aud="another-service")),
        "Audience doesn't match",
    ),
    "audience-list-without-us": (
        lambda issuer: RSA_KEY.sign(claims_for(issuer, aud=["a", "b"])),
        "Audience doesn't match",
    ),
    "expired-beyond-skew": (
        lambda issuer: RSA_KEY.sign(claims_for(issuer, iat=ago(600), nbf=None, exp=ago(40))),
        "expired",
    ),
    "not-yet-valid-beyond-skew": (
        lambda issuer: RSA_KEY.sign(claims_for(issuer, nbf=ago(-40))),
        "not yet valid (nbf)",
    ),
    "issued-in-the-future": (
        lambda issuer: RSA_KEY.sign(claims_for(issuer, iat=ago(-40), nbf=None)),
        "not yet valid (iat)",
    ),
    **{
        f"missing-{claim}": (without(claim), "no issuer" if claim == "iss" else f'"{claim}"')
        for claim in ("exp", "iat", "sub", "iss", "aud")
    },
    "empty-subject": (lambda issuer: RSA_KEY.sign(claims_for(issuer, sub="")), "no subject"),
    "forged-signature": (
        lambda issuer: SigningKey(rsa_key().private_key, "RS256", RSA_KEY.kid).sign(
            claims_for(issuer)
        ),
        "Signature verification failed",
    ),
    "tampered-subject": (
        lambda issuer: with_subject_swapped(RSA_KEY.sign(claims_for(issuer))),
        "Signature verification failed",
    ),
    "algorithm-not-allowed": (
        lambda issuer: SigningKey(RSA_KEY.private_key, "RS512", RSA_KEY.kid).sign(
            claims_for(issuer)
        ),
        "algorithm not accepted",
    ),
    "algorithm-does-not-fit-key": (
        lambda issuer: SigningKey(EC_KEY.private_key, "ES256", RSA_KEY.kid).sign(
            claims_for(issuer)
        ),
        "does not fit its signing key",
    ),
    "unknown-key-id": (lambda issuer: rsa_key().sign(claims_for(issuer)), "unknown signing key"),
    "no-key-id": (
        lambda issuer: jwt.encode(claims_for(issuer), RSA_KEY.private_key, "RS256"),
        "no key id",
    ),
    "not-a-jwt": (lambda issuer: "not.a.jwt", "invalid token"),
}


@pytest.mark.parametrize(
    ("make_token", "why"), REJECTED_TOKENS.values(), ids=REJECTED_TOKENS.keys()
)
async def test_rejected_token_is_401_and_nothing_runs(
    demo_world: DemoWorld, provider: JwksServer, make_token: TokenMaker, why: str
) -> None:
    async with api(demo_world, provider) as client:
        response = await ask(client, make_token(provider.issuer))
    assert_refused(response, INVALID_TOKEN_CHALLENGE)
    assert why in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("typ", ["at+jwt", "application/AT+JWT", "At+Jwt"])
async def test_required_token_type_is_accepted_in_any_spelling(
    demo_world: DemoWorld, provider: JwksServer, typ: str
) -> None:
    async with api(demo_world, provider, oidc_token_type="at+jwt") as client:
        assert_viewer(await ask(client, RSA_KEY.sign(claims_for(provider.issuer), typ=typ)))


@pytest.mark.parametrize("typ", ["JWT", "application/jwt", None], ids=["JWT", "jwt", "none"])
async def test_wrong_or_missing_token_type_is_401_when_one_is_required(
    demo_world: DemoWorld, provider: JwksServer, typ: str | None
) -> None:
    token = RSA_KEY.sign(claims_for(provider.issuer), typ=typ)
    async with api(demo_world, provider, oidc_token_type="at+jwt") as client:
        assert_refused(await ask(client, token), INVALID_TOKEN_CHALLENGE)


# --- assurance level -----------------------------------------------------------------------


@pytest.mark.parametrize("acr", ["2", 2, "3", "urn:vn:vneid:loa:2", "https://idp.example/loa/2"])
async def test_assurance_level_two_or_more_is_accepted(
    demo_world: DemoWorld, provider: JwksServer, acr: object
) -> None:
    async with api(demo_world, provider) as client:
        assert_viewer(await ask(client, RSA_KEY.sign(claims_for(provider.issuer, acr=acr))))


@pytest.mark.parametrize(
    "acr", [None, "1", 1, "0", True, "substantial", "urn:vn:vneid:loa:1", ["2"], 2.0]
)
async def test_missing_or_low_assurance_is_a_step_up_401(
    demo_world: DemoWorld, provider: JwksServer, acr: object
) -> None:
    token = RSA_KEY.sign(claims_for(provider.issuer, acr=acr))
    async with api(demo_world, provider) as client:
        response = await ask(client, token)
    assert_refused(response, step_up_challenge(2))


async def test_assurance_claim_and_level_are_configurable(
    demo_world: DemoWorld, provider: JwksServer
) -> None:
    level_three = RSA_KEY.sign(claims_for(provider.issuer, acr="1", loa="3"))
    level_two = RSA_KEY.sign(claims_for(provider.issuer, acr="3", loa="2"))
    async with api(
        demo_world, provider, oidc_assurance_claim="loa", min_assurance_level=3
    ) as client:
        assert_viewer(await ask(client, level_three))
        assert_refused(await ask(client, level_two), step_up_challenge(3))


async def test_local_issuer_tokens_need_the_assurance_level_too(
    demo_world: DemoWorld, provider: JwksServer
) -> None:
    local_key = demo_world.client.issuer._private_key
    now = int(time.time())
    local_claims = {"iss": LOCAL_ISSUER, "aud": LOCAL_AUDIENCE, "sub": ADMIN, "iat": now}
    low = jwt.encode({**local_claims, "exp": now + 60, "acr": "1"}, local_key, "EdDSA")
    missing = jwt.encode({**local_claims, "exp": now + 60}, local_key, "EdDSA")
    async with api(demo_world, provider, local_issuer_enabled=True) as client:
        assert_viewer(await ask(client, demo_world.client.token_for(ADMIN)))
        assert_refused(await ask(client, low), step_up_challenge(2))
        assert_refused(await ask(client, missing), step_up_challenge(2))


# --- provisioned accounts only -------------------------------------------------------------


async def test_unknown_and_inactive_subjects_get_the_same_401(
    demo_world: DemoWorld, provider: JwksServer
) -> None:
    async with api(demo_world, provider) as client:
        unknown = await ask(client, RSA_KEY.sign(claims_for(provider.issuer, "999999999999")))
        inactive = await ask(client, RSA_KEY.sign(claims_for(provider.issuer, INACTIVE_VIEWER)))
    assert_refused(unknown, INVALID_TOKEN_CHALLENGE)
    assert_refused(inactive, INVALID_TOKEN_CHALLENGE)
    assert unknown.json() == inactive.json()
    assert unknown.headers["www-authenticate"] == inactive.headers["www-authenticate"]


async def test_refusals_carry_a_reason_and_the_verified_subject(
    demo_world: DemoWorld, provider: JwksServer
) -> None:
    settings = Settings(
        data_dir=demo_world.settings.data_dir,
        local_issuer_enabled=False,
        oidc_issuer=provider.issuer,
        oidc_audience=AUDIENCE,
    )
    verifier = token_verifier(settings)
    cases: list[tuple[str | None, RefusalReason, str | None]] = [
        (None, RefusalReason.MISSING_TOKEN, None),
        ("Bearer " + unsigned(claims_for(provider.issuer)), RefusalReason.INVALID_TOKEN, None),
        (
            "Bearer " + RSA_KEY.sign(claims_for(provider.issuer, acr="1")),
            RefusalReason.INSUFFICIENT_ASSURANCE,
            ADMIN,
        ),
        (
            "Bearer " + RSA_KEY.sign(claims_for(provider.issuer, INACTIVE_VIEWER)),
            RefusalReason.UNKNOWN_OR_INACTIVE_USER,
            INACTIVE_VIEWER,
        ),
    ]
    async with AsyncSession(demo_world.engine) as session:
        for header, reason, subject in cases:
            with pytest.raises(AuthenticationError) as refusal:
                await authenticate(header, verifier, session)
            assert (refusal.value.reason, refusal.value.subject) == (reason, subject)
            expected_level = 2 if reason is RefusalReason.INSUFFICIENT_ASSURANCE else None
            assert refusal.value.required_assurance_level == expected_level


# --- both issuers --------------------------------------------------------------------------


async def test_both_issuers_are_accepted_each_with_its_own_keys(
    demo_world: DemoWorld, provider: JwksServer
) -> None:
    local_key = demo_world.client.issuer._private_key
    # Each token claims one issuer but is signed with the other issuer's key.
    claims_provider_signed_locally = SigningKey(local_key, "EdDSA", ED_KEY.kid).sign(
        claims_for(provider.issuer)
    )
    local_claims = {**claims_for(LOCAL_ISSUER), "aud": LOCAL_AUDIENCE}
    claims_local_signed_by_provider = ED_KEY.sign(local_claims)
    async with api(demo_world, provider, local_issuer_enabled=True) as client:
        assert_viewer(await ask(client, RSA_KEY.sign(claims_for(provider.issuer))))
        fetches = provider.count(JWKS_PATH)
        assert_viewer(await ask(client, demo_world.client.token_for(ADMIN)))
        for token in (
            claims_provider_signed_locally,
            claims_local_signed_by_provider,
            ED_KEY.sign(claims_for("https://unknown-idp.example")),
        ):
            assert_refused(await ask(client, token), INVALID_TOKEN_CHALLENGE)
        assert provider.count(JWKS_PATH) == fetches  # local tokens never reach the provider


# --- keys: rotation, flood, outage, discovery ----------------------------------------------


async def test_rotated_key_works_without_a_restart(
    demo_world: DemoWorld, fresh_provider: JwksServer
) -> None:
    old_key, new_key = RSA_KEY, rsa_key()
    async with api(demo_world, fresh_provider, oidc_jwks_refetch_seconds=0) as client:
        assert_viewer(await ask(client, old_key.sign(claims_for(fresh_provider.issuer))))
        fresh_provider.publish(new_key)
        assert_viewer(await ask(client, new_key.sign(claims_for(fresh_provider.issuer))))
        # The withdrawn key went with the old key set.
        response = await ask(client, old_key.sign(claims_for(fresh_provider.issuer)))
        assert_refused(response, INVALID_TOKEN_CHALLENGE)
    # No interval here, so each unknown key id asked once: the first use, the new key, the old.
    assert fresh_provider.count(JWKS_PATH) == 3
    assert fresh_provider.count(DISCOVERY_PATH) == 1


def oidc_verifier(server: JwksServer, **config: Any) -> OidcVerifier:
    return OidcVerifier(OidcConfig(issuer=server.issuer, audience=AUDIENCE, **config))


async def test_a_flood_of_unknown_key_ids_fetches_the_keys_at_most_twice(
    fresh_provider: JwksServer,
) -> None:
    verifier = oidc_verifier(fresh_provider)  # the default 10 s between fetches
    started = time.monotonic()
    for _batch in range(4):
        tokens = [
            SigningKey(RSA_KEY.private_key, "RS256", uuid.uuid4().hex).sign(
                claims_for(fresh_provider.issuer)
            )
            for _ in range(50)
        ]
        results = await asyncio.gather(
            *(verifier.verify(token) for token in tokens), return_exceptions=True
        )
        assert all(isinstance(result, TokenError) for result in results)
        await asyncio.sleep(0.25)
    assert time.monotonic() - started < 5
    assert 1 <= fresh_provider.count(JWKS_PATH) <= 2
    # The keys that one fetch brought still serve a genuine token, without another fetch.
    fetches = fresh_provider.count(JWKS_PATH)
    assert (await verifier.verify(RSA_KEY.sign(claims_for(fresh_provider.issuer)))).subject
    assert fresh_provider.count(JWKS_PATH) == fetches


async def test_a_new_key_waits_for_the_refetch_interval(fresh_provider: JwksServer) -> None:
    verifier = oidc_verifier(fresh_provider, refetch_interval_seconds=0.3)
    await verifier.verify(RSA_KEY.sign(claims_for(fresh_provider.issuer)))
    new_key = ec_key()
    fresh_provider.publish(RSA_KEY, new_key)
    with pytest.raises(TokenError, match="unknown signing key"):
        await verifier.verify(new_key.sign(claims_for(fresh_provider.issuer)))
    assert fresh_provider.count(JWKS_PATH) == 1
    await asyncio.sleep(0.35)
    assert (await verifier.verify(new_key.sign(claims_for(fresh_provider.issuer)))).subject
    assert fresh_provider.count(JWKS_PATH) == 2


async def test_concurrent_requests_share_one_fetch(fresh_provider: JwksServer) -> None:
    fresh_provider.delay_seconds = 0.3
    # No interval at all: only the shared in-flight fetch keeps this to one request.
    verifier = oidc_verifier(fresh_provider, refetch_interval_seconds=0)
    tokens = [rsa_key_with_random_kid(fresh_provider.issuer) for _ in range(50)]
    tokens.append(RSA_KEY.sign(claims_for(fresh_provider.issuer)))
    results = await asyncio.gather(
        *(verifier.verify(token) for token in tokens), return_exceptions=True
    )
    assert fresh_provider.count(JWKS_PATH) == 1
    assert sum(isinstance(result, TokenError) for result in results) == 50
    assert not isinstance(results[-1], BaseException)


def rsa_key_with_random_kid(issuer: str) -> str:
    return SigningKey(RSA_KEY.private_key, "RS256", uuid.uuid4().hex).sign(claims_for(issuer))


async def test_cached_keys_keep_working_while_the_provider_fails(
    fresh_provider: JwksServer, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = oidc_verifier(fresh_provider, refetch_interval_seconds=0)
    genuine = RSA_KEY.sign(claims_for(fresh_provider.issuer))
    await verifier.verify(genuine)
    fresh_provider.failure_status = 500
    unknown_key = rsa_key_with_random_kid(fresh_provider.issuer)
    with (
        caplog.at_level(logging.WARNING, logger="congress.oidc"),
        pytest.raises(TokenError, match="unknown signing key"),
    ):
        await verifier.verify(unknown_key)
    assert fresh_provider.count(JWKS_PATH) == 2  # it did ask, and was refused
    assert "answered 500" in caplog.text
    assert "keeping the 2 cached" in caplog.text
    assert (await verifier.verify(genuine)).subject == ADMIN


async def test_cached_keys_keep_working_when_the_provider_is_unreachable(
    fresh_provider: JwksServer, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = oidc_verifier(fresh_provider, refetch_interval_seconds=0)
    genuine = ED_KEY.sign(claims_for(fresh_provider.issuer))
    await verifier.verify(genuine)
    fresh_provider.stop()
    with caplog.at_level(logging.WARNING, logger="congress.oidc"), pytest.raises(TokenError):
        await verifier.verify(rsa_key_with_random_kid(fresh_provider.issuer))
    assert "ConnectError" in caplog.text
    assert (await verifier.verify(genuine)).subject == ADMIN


async def test_a_provider_down_at_start_is_asked_again_later(fresh_provider: JwksServer) -> None:
    verifier = oidc_verifier(fresh_provider, refetch_interval_seconds=0.2)
    genuine = RSA_KEY.sign(claims_for(fresh_provider.issuer))
    fresh_provider.failure_status = 503
    with pytest.raises(TokenError, match="unknown signing key"):
        await verifier.verify(genuine)
    fresh_provider.failure_status = None
    with pytest.raises(TokenError):  # still inside the interval: not asked again yet
        await verifier.verify(genuine)
    await asyncio.sleep(0.25)
    assert (await verifier.verify(genuine)).subject == ADMIN
    assert fresh_provider.count(DISCOVERY_PATH) == 2


async def test_a_withdrawn_key_stops_working_once_the_keys_are_old(
    fresh_provider: JwksServer,
) -> None:
    verifier = oidc_verifier(fresh_provider, refetch_interval_seconds=0, max_key_age_seconds=0.1)
    genuine = RSA_KEY.sign(claims_for(fresh_provider.issuer))
    await verifier.verify(genuine)
    fresh_provider.publish(ED_KEY)
    await asyncio.sleep(0.15)
    # Old keys still answer at once; the refresh they trigger runs in the background.
    assert (await verifier.verify(genuine)).subject == ADMIN
    deadline = time.monotonic() + 5
    while await accepts(verifier, genuine):
        assert time.monotonic() < deadline, "the withdrawn key was never dropped"
        await asyncio.sleep(0.01)
    with pytest.raises(TokenError, match="unknown signing key"):
        await verifier.verify(genuine)


async def accepts(verifier: OidcVerifier, token: str) -> bool:
    try:
        await verifier.verify(token)
    except TokenError:
        return False
    return True


async def test_discovery_finds_the_jwks_once(fresh_provider: JwksServer) -> None:
    verifier = oidc_verifier(fresh_provider, refetch_interval_seconds=0)
    await verifier.verify(RSA_KEY.sign(claims_for(fresh_provider.issuer)))
    await verifier.verify(ED_KEY.sign(claims_for(fresh_provider.issuer)))
    with pytest.raises(TokenError):
        await verifier.verify(rsa_key_with_random_kid(fresh_provider.issuer))
    assert fresh_provider.count(DISCOVERY_PATH) == 1
    assert fresh_provider.count(JWKS_PATH) == 2


async def test_an_explicit_jwks_url_skips_discovery(fresh_provider: JwksServer) -> None:
    verifier = oidc_verifier(fresh_provider, jwks_url=fresh_provider.jwks_url)
    assert (await verifier.verify(RSA_KEY.sign(claims_for(fresh_provider.issuer)))).subject
    assert fresh_provider.count(DISCOVERY_PATH) == 0
    assert fresh_provider.count(JWKS_PATH) == 1


async def test_a_discovery_document_for_another_issuer_is_not_trusted(
    fresh_provider: JwksServer, caplog: pytest.LogCaptureFixture
) -> None:
    fresh_provider.discovery_issuer = "https://impostor.example"
    verifier = oidc_verifier(fresh_provider)
    with caplog.at_level(logging.WARNING, logger="congress.oidc"), pytest.raises(TokenError):
        await verifier.verify(RSA_KEY.sign(claims_for(fresh_provider.issuer)))
    assert "impostor" in caplog.text
    assert fresh_provider.count(JWKS_PATH) == 0


# --- configuration and parsing -------------------------------------------------------------


@pytest.mark.parametrize(
    "algorithms", [("HS256",), ("RS256", "none"), ("HS512",), ("none",), ("ES256K",), ()]
)
def test_symmetric_or_unknown_algorithms_are_refused(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(OidcConfigurationError):
        OidcConfig(issuer="https://idp.example", audience=AUDIENCE, algorithms=algorithms)


@pytest.mark.parametrize(
    ("issuer", "audience", "jwks_url"),
    [
        ("http://idp.example", AUDIENCE, None),
        ("https://idp.example", "", None),
        ("https://idp.example", AUDIENCE, "http://keys.example/jwks"),
        ("idp.example", AUDIENCE, None),
    ],
)
def test_unsafe_or_incomplete_provider_settings_are_refused(
    issuer: str, audience: str, jwks_url: str | None
) -> None:
    with pytest.raises(OidcConfigurationError):
        OidcConfig(issuer=issuer, audience=audience, jwks_url=jwks_url)


def test_oidc_without_an_audience_stops_the_app(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, oidc_issuer="https://idp.example")
    with pytest.raises(OidcConfigurationError, match="CONGRESS_OIDC_AUDIENCE"):
        create_app(settings)


def test_settings_read_the_provider_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "CONGRESS_OIDC_ISSUER": "https://idp.example",
            "CONGRESS_OIDC_AUDIENCE": AUDIENCE,
            "CONGRESS_OIDC_ALGORITHMS": "RS256, ES256",
            "CONGRESS_OIDC_CLOCK_SKEW": "10",
            "CONGRESS_OIDC_TOKEN_TYPE": "at+jwt",
            "CONGRESS_OIDC_ASSURANCE_CLAIM": "loa",
            "CONGRESS_MIN_ASSURANCE_LEVEL": "3",
        }
    )
    assert settings.oidc_algorithms == ("RS256", "ES256")
    assert settings.oidc_clock_skew_seconds == 10
    assert (settings.oidc_token_type, settings.oidc_assurance_claim) == ("at+jwt", "loa")
    assert settings.min_assurance_level == 3
    assert settings.oidc_jwks_url is None
    assert Settings.from_env(settings.to_env()) == settings.with_(
        data_dir=settings.data_dir.resolve(), database_url=settings.resolved_database_url
    )
    defaults = Settings.from_env({})
    assert defaults.oidc_algorithms == ("RS256", "PS256", "ES256", "EdDSA")
    assert (defaults.oidc_clock_skew_seconds, defaults.min_assurance_level) == (30, 2)


@pytest.mark.parametrize(
    ("value", "level"),
    [
        ("2", 2),
        (2, 2),
        ("02", 2),
        ("urn:vn:vneid:loa:2", 2),
        ("https://idp.example/loa/3", 3),
        ("1:2", 2),
        (None, None),
        (True, None),
        (2.0, None),
        (-1, None),
        ("", None),
        (" 2", None),
        ("2 ", None),
        ("loa-2", None),
        ("²", None),
        ("٢", None),
        ("urn:loa:2:", None),
        ("substantial", None),
        (["2"], None),
        ("9" * 50, None),
    ],
)
def test_assurance_level_is_read_from_numbers_and_numeric_last_segments(
    value: object, level: int | None
) -> None:
    assert assurance_level_from_claim(value) == level


def test_only_public_signing_keys_with_ids_are_kept() -> None:
    rsa_jwk = RSA_KEY.public_jwk()
    document = {
        "keys": [
            rsa_jwk,
            {**ED_KEY.public_jwk(), "use": "enc"},
            {"kty": "oct", "kid": "shared-secret", "k": "c2VjcmV0"},
            {key: value for key, value in EC_KEY.public_jwk().items() if key != "kid"},
            "not a key",
        ]
    }
    assert signing_keys(document) == {RSA_KEY.kid: rsa_jwk}
    with pytest.raises(ProviderError):
        signing_keys({"keys": [{"kty": "oct", "kid": "x", "k": "c2VjcmV0"}]})


async def test_cache_binds_a_key_only_to_an_algorithm_it_fits(provider: JwksServer) -> None:
    cache = JwksCache(OidcConfig(issuer=provider.issuer, audience=AUDIENCE))
    assert (await cache.key(PSS_KEY.kid, "PS256")).algorithm_name == "PS256"
    for kid, algorithm in [(RSA_KEY.kid, "PS256"), (EC_KEY.kid, "EdDSA"), (ED_KEY.kid, "RS256")]:
        with pytest.raises(TokenError, match="does not fit"):
            await cache.key(kid, algorithm)
