"""Who is asking: every request without proof of an active user is refused with 401."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from models import Role
from models.demo import CENTRAL_CODE
from permissions.tokens import LOCAL_AUDIENCE, LOCAL_ISSUER, LocalIssuer
from tests.conftest import (
    INACTIVE_VIEWER,
    TWO_SUBTREES_VIEWER,
    UNASSIGNED_VIEWER,
    DemoWorld,
    demo_user,
)

VIEWER_QUERY = "{ viewer { subject } }"


def assert_unauthenticated(
    response_status: int, body: dict[str, object], www_authenticate: str | None
) -> None:
    assert response_status == 401
    assert www_authenticate is not None
    assert www_authenticate.startswith("Bearer")
    errors = body["errors"]
    assert isinstance(errors, list)
    assert errors[0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert "data" not in body


async def post_with_header(
    world: DemoWorld, authorization: str | None
) -> tuple[int, dict[str, object], str | None]:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await world.client.http.post(
        "/graphql", json={"query": VIEWER_QUERY}, headers=headers
    )
    return response.status_code, response.json(), response.headers.get("www-authenticate")


async def test_valid_token_identifies_the_viewer(demo_world: DemoWorld) -> None:
    subject = demo_user(Role.ADMIN, CENTRAL_CODE)
    data = await demo_world.client.query(subject, VIEWER_QUERY)
    assert data == {"viewer": {"subject": subject}}


async def test_the_viewer_comes_with_every_assignment_or_none(demo_world: DemoWorld) -> None:
    """The user and their assignments are read in one statement: one row per assignment,
    or one without any."""
    query = "{ viewer { subject name assignments { role committee { depth } } } }"
    two = (await demo_world.client.query(TWO_SUBTREES_VIEWER, query))["viewer"]
    assert (two["subject"], two["name"]) == (TWO_SUBTREES_VIEWER, "Viewer at two communes")
    assert sorted(a["role"] for a in two["assignments"]) == ["REPORTER", "VIEWER"]
    none = (await demo_world.client.query(UNASSIGNED_VIEWER, query))["viewer"]
    assert none == {
        "subject": UNASSIGNED_VIEWER,
        "name": "Official with no assignment",
        "assignments": [],
    }


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not-a-jwt", "Bearer a.b.c"],
)
async def test_missing_or_malformed_token_is_401(
    demo_world: DemoWorld, authorization: str | None
) -> None:
    assert_unauthenticated(*await post_with_header(demo_world, authorization))


async def test_expired_token_is_401(demo_world: DemoWorld) -> None:
    token = demo_world.client.issuer.issue(
        demo_user(Role.ADMIN, CENTRAL_CODE), 60, now=time.time() - 3600
    )
    assert_unauthenticated(*await post_with_header(demo_world, f"Bearer {token}"))


async def test_token_signed_by_another_key_is_401(demo_world: DemoWorld) -> None:
    stranger = LocalIssuer(Ed25519PrivateKey.generate())
    token = stranger.issue(demo_user(Role.ADMIN, CENTRAL_CODE), 600)
    assert_unauthenticated(*await post_with_header(demo_world, f"Bearer {token}"))


async def test_unsigned_token_is_401(demo_world: DemoWorld) -> None:
    claims = {
        "iss": LOCAL_ISSUER,
        "aud": LOCAL_AUDIENCE,
        "sub": demo_user(Role.ADMIN, CENTRAL_CODE),
        "iat": int(time.time()),
        "exp": int(time.time()) + 600,
    }
    token = jwt.encode(claims, key=None, algorithm="none")  # type: ignore[arg-type]
    assert_unauthenticated(*await post_with_header(demo_world, f"Bearer {token}"))


async def test_tampered_subject_is_401(demo_world: DemoWorld) -> None:
    token = demo_world.client.token_for(demo_user(Role.VIEWER, CENTRAL_CODE))
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = demo_user(Role.ADMIN, CENTRAL_CODE)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    assert_unauthenticated(
        *await post_with_header(demo_world, f"Bearer {header}.{forged}.{signature}")
    )


async def test_wrong_audience_is_401(demo_world: DemoWorld) -> None:
    private_key = demo_world.client.issuer._private_key
    claims = {
        "iss": LOCAL_ISSUER,
        "aud": "another-service",
        "sub": demo_user(Role.ADMIN, CENTRAL_CODE),
        "iat": int(time.time()),
        "exp": int(time.time()) + 600,
    }
    token = jwt.encode(claims, private_key, algorithm="EdDSA")
    assert_unauthenticated(*await post_with_header(demo_world, f"Bearer {token}"))


async def test_inactive_and_unknown_users_get_the_same_401(demo_world: DemoWorld) -> None:
    inactive = await post_with_header(
        demo_world, f"Bearer {demo_world.client.token_for(INACTIVE_VIEWER)}"
    )
    unknown = await post_with_header(
        demo_world, f"Bearer {demo_world.client.token_for('999999999999')}"
    )
    assert_unauthenticated(*inactive)
    assert_unauthenticated(*unknown)
    assert inactive == unknown


async def test_get_queries_need_a_token_too(demo_world: DemoWorld) -> None:
    response = await demo_world.client.http.get("/graphql", params={"query": VIEWER_QUERY})
    assert response.status_code == 401
    token = demo_world.client.token_for(demo_user(Role.VIEWER, CENTRAL_CODE))
    allowed = await demo_world.client.http.get(
        "/graphql", params={"query": VIEWER_QUERY}, headers={"Authorization": f"Bearer {token}"}
    )
    assert allowed.status_code == 200
    assert allowed.json()["data"]["viewer"]["subject"]


async def test_graphiql_page_loads_without_a_token(demo_world: DemoWorld) -> None:
    response = await demo_world.client.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_health_needs_no_token(demo_world: DemoWorld) -> None:
    response = await demo_world.client.http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
