"""Signing in from a browser: the development page, the OpenID Connect code flow with PKCE
against a real loopback provider, cookie sessions, CSRF, signing out, deactivation."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select, update

from config import Environment, Settings
from graph.app import create_app
from models.base import utc_now
from models.browser_sessions import BrowserSession, SignInAttempt
from models.users import Role, User
from permissions.browser_sessions import CSRF_COOKIE, SESSION_COOKIE
from tests.admin_api import DEACTIVATE_USER, REACTIVATE_USER, mutate, user_gid
from tests.api import counted_statements
from tests.conftest import DemoWorld, demo_user
from tests.jwks_server import JwksServer, rsa_key, running_jwks_server

VIEWER_QUERY = "{ viewer { subject } }"
CENTRAL_ADMIN = demo_user(Role.ADMIN, "TW")
PROVINCE_VIEWER = demo_user(Role.VIEWER, "T01")


@asynccontextmanager
async def browser(
    world: DemoWorld, host: str = "localhost", **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser's cookie jar talking to the app at `host` (localhost: cookies not Secure)."""
    app = create_app(world.settings.with_(**settings), engine=world.engine)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=f"http://{host}"
    ) as client:
        yield client


def form_of(page: str, subject: str) -> dict[str, str]:
    """The hidden fields of the development page's form for `subject`."""
    for form in re.findall(r"<form .*?</form>", page, re.DOTALL):
        fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', form))
        if fields.get("subject") == subject:
            return fields
    raise AssertionError(f"no form for {subject}")


async def dev_sign_in(client: httpx.AsyncClient, subject: str, next_path: str = "/") -> str:
    """Sign in through the development page; the session's CSRF token."""
    page = await client.get("/sign-in", params={"next": next_path})
    assert page.status_code == 200
    answer = await client.post("/sign-in/dev", data=form_of(page.text, subject))
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == next_path
    return client.cookies[CSRF_COOKIE]


async def ask(
    client: httpx.AsyncClient, query: str, csrf: str | None, **variables: Any
) -> httpx.Response:
    headers = {} if csrf is None else {"X-CSRF-Token": csrf}
    return await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )


def set_cookies(response: httpx.Response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.get_list("set-cookie")}


async def test_the_development_page_lists_the_users_and_signs_one_in(
    fresh_world: DemoWorld,
) -> None:
    async with browser(fresh_world) as client:
        page = await client.get("/sign-in")
        assert "Cán bộ admin Trung ương" in page.text
        assert page.headers["x-frame-options"] == "DENY"
        assert "script-src 'self'" in page.headers["content-security-policy"]
        answer = await client.post("/sign-in/dev", data=form_of(page.text, CENTRAL_ADMIN))
        assert answer.status_code == 303
        cookies = set_cookies(answer)
        session, csrf = cookies[SESSION_COOKIE].lower(), cookies[CSRF_COOKIE].lower()
        assert "httponly" in session
        assert "samesite=lax" in session
        assert "secure" not in session
        assert "httponly" not in csrf
        assert "samesite=strict" in csrf
        response = await ask(client, VIEWER_QUERY, client.cookies[CSRF_COOKIE])
        assert response.json() == {"data": {"viewer": {"subject": CENTRAL_ADMIN}}}


async def test_cookies_are_secure_outside_localhost(fresh_world: DemoWorld) -> None:
    async with browser(fresh_world, host="congress.example") as client:
        page = await client.get("/sign-in")
        answer = await client.post("/sign-in/dev", data=form_of(page.text, CENTRAL_ADMIN))
        for header in set_cookies(answer).values():
            assert "; secure" in header.lower(), header


async def test_the_dashboard_page_and_its_assets_need_no_session(fresh_world: DemoWorld) -> None:
    """The page is served to anyone (its first request's 401 sends a signed-out browser to
    /sign-in with the link's `#…` kept); the data it shows needs the session."""
    async with browser(fresh_world) as client:
        page = await client.get("/")
        assert page.status_code == 200
        assert '<script type="module" src="/app/app.js">' in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        script = await client.get("/app/app.js", headers={"Accept-Encoding": "gzip"})
        assert script.headers["content-encoding"] == "gzip"
        assert (await client.get("/graphql", params={"query": VIEWER_QUERY})).status_code == 401


async def test_the_service_worker_and_the_manifest_need_no_session(
    fresh_world: DemoWorld,
) -> None:
    """What a phone needs to keep the app (web/routes.py): the service worker at the root,
    told every asset and a version made of them, checked on every visit; the manifest and
    its icons."""
    async with browser(fresh_world) as client:
        worker = await client.get("/sw.js")
        assert worker.status_code == 200
        assert worker.headers["content-type"].startswith("text/javascript")
        assert worker.headers["cache-control"] == "no-cache"
        version, shell = worker.text.splitlines()[:2]
        assert re.fullmatch(r'const VERSION = "[0-9a-f]{16}";', version)
        assets = json.loads(shell.removeprefix("const SHELL = ").removesuffix(";"))
        page = (await client.get("/")).text
        assert set(re.findall(r'(?:href|src)="(/app/[^"]+)"', page)) <= set(assets)
        assert "/app/views/update.js" in assets  # and what loads later, for offline use
        for asset in assets:
            assert (await client.get(asset)).status_code == 200, asset
        manifest = await client.get("/app/manifest.webmanifest")
        assert manifest.headers["content-type"] == "application/manifest+json"
        icons = manifest.json()["icons"]
        assert {icon["sizes"] for icon in icons} == {"192x192", "512x512"}
        assert any(icon.get("purpose") == "maskable" for icon in icons)
        for icon in icons:
            fetched = await client.get(icon["src"])
            assert fetched.headers["content-type"] == "image/png"
            assert fetched.content.startswith(b"\x89PNG")


async def test_a_cookie_request_that_changes_state_needs_the_csrf_token(
    fresh_world: DemoWorld,
) -> None:
    async with browser(fresh_world) as client:
        csrf = await dev_sign_in(client, CENTRAL_ADMIN)
        with counted_statements(fresh_world.engine) as statements:
            for header in (
                None,
                "",
                "not-the-token",
                csrf[:-1] + ("A" if csrf[-1] != "A" else "B"),
            ):
                refused = await ask(client, VIEWER_QUERY, header)
                assert refused.status_code == 403
                assert refused.json()["errors"][0]["extensions"]["code"] == "CSRF_FAILED"
        # Refused before the database is read.
        assert statements == []
        # A query over GET changes nothing and needs no token; a mutation over GET never runs.
        read = await client.get("/graphql", params={"query": VIEWER_QUERY})
        assert read.json() == {"data": {"viewer": {"subject": CENTRAL_ADMIN}}}
        write = await client.get(
            "/graphql",
            params={"query": "mutation { signOutEverywhere(input: {}) { __typename } }"},
        )
        assert write.status_code in {400, 405}


async def test_a_bearer_token_is_used_before_any_cookie(fresh_world: DemoWorld) -> None:
    async with browser(fresh_world) as client:
        await dev_sign_in(client, CENTRAL_ADMIN)
        token = fresh_world.client.token_for(PROVINCE_VIEWER)
        answer = await client.post(
            "/graphql",
            json={"query": VIEWER_QUERY},
            headers={"Authorization": f"Bearer {token}"},
        )
        # No CSRF token needed: a browser never adds an Authorization header by itself.
        assert answer.json() == {"data": {"viewer": {"subject": PROVINCE_VIEWER}}}


async def test_a_made_up_cookie_is_refused_without_reading_the_database(
    fresh_world: DemoWorld,
) -> None:
    async with browser(fresh_world) as client:
        await dev_sign_in(client, CENTRAL_ADMIN)
        genuine = client.cookies[SESSION_COOKIE]
        secret, end, mac = genuine.split(".")
        later = str(int(end) + 3600)
        for forged in (
            "x",
            secret,
            f"{secret}.{end}.{mac[::-1]}",
            f"{secret[::-1]}.{end}.{mac}",
            f"{secret}.{later}.{mac}",  # a longer life than it was given
            f"{secret}.{end}.{mac[:-1]}é",
        ):
            client.cookies.clear()
            # As raw bytes: a client may send anything, not only ASCII.
            cookie = f"{SESSION_COOKIE}={forged}".encode()
            with counted_statements(fresh_world.engine) as statements:
                answer = await client.get(
                    "/graphql", params={"query": VIEWER_QUERY}, headers={b"Cookie": cookie}
                )
            assert answer.status_code == 401
            assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            assert statements == []


async def test_signing_out_ends_the_session_everywhere(fresh_world: DemoWorld) -> None:
    async with browser(fresh_world) as client:
        csrf = await dev_sign_in(client, CENTRAL_ADMIN)
        cookie = client.cookies[SESSION_COOKIE]
        # Without the token (a hostile page's form), nothing happens.
        refused = await client.post("/sign-out")
        assert refused.status_code == 403
        assert (await ask(client, VIEWER_QUERY, csrf)).status_code == 200
        answer = await client.post("/sign-out", headers={"X-CSRF-Token": csrf})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/sign-in"
        assert SESSION_COOKIE not in client.cookies
    # The same cookie, kept by someone who copied it, signs nobody in.
    async with browser(fresh_world) as thief:
        thief.cookies.set(SESSION_COOKIE, cookie)
        answer = await thief.get("/graphql", params={"query": VIEWER_QUERY})
        assert answer.status_code == 401


async def test_a_deactivated_user_is_refused_on_the_next_request(
    fresh_world: DemoWorld,
) -> None:
    async with browser(fresh_world) as client:
        csrf = await dev_sign_in(client, PROVINCE_VIEWER)
        assert (await ask(client, VIEWER_QUERY, csrf)).status_code == 200
        async with fresh_world.engine.begin() as connection:
            await connection.execute(
                update(User).where(User.subject == PROVINCE_VIEWER).values(is_active=False)
            )
        answer = await ask(client, VIEWER_QUERY, csrf)
        assert answer.status_code == 401
        assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_an_expired_session_signs_nobody_in(fresh_world: DemoWorld) -> None:
    async with browser(fresh_world) as client:
        csrf = await dev_sign_in(client, PROVINCE_VIEWER)
        async with fresh_world.engine.begin() as connection:
            await connection.execute(
                update(BrowserSession).values(expires_at=utc_now() - timedelta(seconds=1))
            )
        assert (await ask(client, VIEWER_QUERY, csrf)).status_code == 401


async def test_exports_download_with_the_session(fresh_world: DemoWorld) -> None:
    async with browser(fresh_world) as client:
        await dev_sign_in(client, PROVINCE_VIEWER)
        csv = await client.get("/reports/progress.csv", params={"under": "T01"})
        assert csv.status_code == 200, csv.text
        assert csv.headers["content-type"].startswith("text/csv")
        xlsx = await client.get("/reports/progress.xlsx", params={"under": "T01"})
        assert xlsx.status_code == 200
        assert xlsx.content[:2] == b"PK"


async def test_the_development_form_needs_its_own_token_and_origin(
    fresh_world: DemoWorld,
) -> None:
    async with browser(fresh_world) as client:
        page = await client.get("/sign-in")
        fields = form_of(page.text, CENTRAL_ADMIN)
        forged = {**fields, "form_token": "made-up"}
        for data, headers in (
            (forged, {}),
            (fields, {"Origin": "https://evil.example"}),
            ({key: value for key, value in fields.items() if key != "form_token"}, {}),
        ):
            answer = await client.post("/sign-in/dev", data=data, headers=headers)
            assert answer.status_code == 400
            assert SESSION_COOKIE not in client.cookies
        # An unknown subject is told as any refused identity is.
        answer = await client.post("/sign-in/dev", data={**fields, "subject": "999999999999"})
        assert answer.status_code == 403
        assert "No account" in answer.text
        # `next` never leads off this server.
        for target in ("https://evil.example/", "//evil.example", "/\\evil.example"):
            # The form's token is used up by a sign-in: each try starts from the page.
            fields = form_of((await client.get("/sign-in")).text, CENTRAL_ADMIN)
            answer = await client.post("/sign-in/dev", data={**fields, "next": target})
            assert answer.status_code == 303, answer.text
            assert answer.headers["location"] == "/"


async def test_production_has_no_development_page(fresh_world: DemoWorld) -> None:
    with running_jwks_server(rsa_key()) as provider:
        async with browser(
            fresh_world,
            environment=Environment.PRODUCTION,
            local_issuer_enabled=False,
            oidc_issuer=provider.issuer,
            oidc_audience="congress-api",
            oidc_client_id=provider.client_id,
            rate_limits=Settings.rate_limits,
            failed_auth_per_minute=60,
        ) as client:
            page = await client.get("/sign-in")
            assert page.status_code == 200
            assert "/sign-in/dev" not in page.text
            assert "001090000003" not in page.text
            assert "/sign-in/oidc" in page.text
            answer = await client.post("/sign-in/dev", data={"subject": CENTRAL_ADMIN})
            assert answer.status_code in {404, 405}


# -- OpenID Connect, against the loopback provider ---------------------------------------


@pytest.fixture
def provider() -> Iterator[JwksServer]:
    with running_jwks_server(rsa_key()) as server:
        yield server


def oidc_settings(provider: JwksServer) -> dict[str, Any]:
    return {
        "oidc_issuer": provider.issuer,
        "oidc_audience": "congress-api",
        "oidc_client_id": provider.client_id,
        "oidc_client_secret": provider.client_secret,
    }


async def at_the_provider(client: httpx.AsyncClient, next_path: str = "/") -> str:
    """Start signing in and let the provider answer; the callback URL it sends back."""
    start = await client.get("/sign-in/oidc", params={"next": next_path})
    assert start.status_code == 303, start.text
    async with httpx.AsyncClient() as person:
        authorized = await person.get(start.headers["location"])
    assert authorized.status_code == 302, authorized.text
    return str(authorized.headers["location"])


async def follow_callback(client: httpx.AsyncClient, callback: str) -> httpx.Response:
    parts = urlsplit(callback)
    return await client.get(f"{parts.path}?{parts.query}")


async def test_the_code_flow_signs_in_with_state_and_pkce(
    fresh_world: DemoWorld, provider: JwksServer
) -> None:
    provider.client_secret = "s3cret"
    provider.signed_in_subject = PROVINCE_VIEWER
    async with browser(fresh_world, **oidc_settings(provider)) as client:
        page = await client.get("/sign-in")
        assert "/sign-in/oidc" in page.text
        start = await client.get("/sign-in/oidc", params={"next": "/#/c/T01"})
        query = parse_qs(urlsplit(start.headers["location"]).query)
        assert query["code_challenge_method"] == ["S256"]
        assert query["client_id"] == [provider.client_id]
        assert query["redirect_uri"] == ["http://localhost/sign-in/callback"]
        async with httpx.AsyncClient() as person:
            callback = (await person.get(start.headers["location"])).headers["location"]
        answer = await follow_callback(client, callback)
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/#/c/T01"
        assert provider.token_refusals == []
        response = await ask(client, VIEWER_QUERY, client.cookies[CSRF_COOKIE])
        assert response.json() == {"data": {"viewer": {"subject": PROVINCE_VIEWER}}}
        # The same callback again (a replay) signs nobody in.
        client.cookies.clear()
        replayed = await follow_callback(client, callback)
        assert replayed.status_code == 400
        assert SESSION_COOKIE not in client.cookies


async def test_a_callback_in_another_browser_is_refused(
    fresh_world: DemoWorld, provider: JwksServer
) -> None:
    """Login CSRF: an attacker's callback, forced into a victim's browser, signs the
    victim in as nobody, and the attacker's attempt is used up."""
    provider.signed_in_subject = CENTRAL_ADMIN
    async with browser(fresh_world, **oidc_settings(provider)) as attacker:
        callback = await at_the_provider(attacker)
    async with browser(fresh_world, **oidc_settings(provider)) as victim:
        answer = await follow_callback(victim, callback)
        assert answer.status_code == 400
        assert "expired" in answer.text
        assert SESSION_COOKIE not in victim.cookies
        # A made-up state in a browser that has its own attempt under way.
        own = await at_the_provider(victim)
        forged = re.sub(r"state=[^&]+", "state=made-up", own)
        assert (await follow_callback(victim, forged)).status_code == 400
        assert provider.count("/token") == 0


async def test_a_wrong_pkce_verifier_or_nonce_is_refused(
    fresh_world: DemoWorld, provider: JwksServer
) -> None:
    provider.signed_in_subject = CENTRAL_ADMIN
    async with browser(fresh_world, **oidc_settings(provider)) as client:
        for column, value in (("code_verifier", "x" * 43), ("nonce", "another")):
            callback = await at_the_provider(client)
            async with fresh_world.engine.begin() as connection:
                await connection.execute(update(SignInAttempt).values({column: value}))
            answer = await follow_callback(client, callback)
            assert answer.status_code == 400, column
            assert "could not be verified" in answer.text
            assert SESSION_COOKIE not in client.cookies
        assert provider.token_refusals == ["PKCE verifier does not match"]


async def test_the_provider_refusals_are_pages_a_person_understands(
    fresh_world: DemoWorld, provider: JwksServer
) -> None:
    async with browser(fresh_world, **oidc_settings(provider)) as client:
        provider.signed_in_subject, provider.signed_in_acr = CENTRAL_ADMIN, "1"
        answer = await follow_callback(client, await at_the_provider(client))
        assert answer.status_code == 403
        assert "level 2" in answer.text
        assert "mức 2" in answer.text
        provider.signed_in_subject, provider.signed_in_acr = "999999999999", "2"
        answer = await follow_callback(client, await at_the_provider(client))
        assert answer.status_code == 403
        assert "No account" in answer.text
        answer = await client.get("/sign-in/callback", params={"error": "access_denied"})
        assert answer.status_code == 400
        assert "cancelled" in answer.text
        assert SESSION_COOKIE not in client.cookies


async def test_an_unreachable_provider_is_a_page_not_a_500(fresh_world: DemoWorld) -> None:
    with running_jwks_server(rsa_key()) as provider:
        settings = oidc_settings(provider)
    async with browser(fresh_world, **settings) as client:
        answer = await client.get("/sign-in/oidc")
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "60"
        assert "cannot be reached" in answer.text


async def test_a_reactivated_user_does_not_get_their_old_sessions_back(
    fresh_world: DemoWorld,
) -> None:
    async with browser(fresh_world) as client:
        csrf = await dev_sign_in(client, PROVINCE_VIEWER)
        user = await user_gid(fresh_world, PROVINCE_VIEWER)
        for document in (DEACTIVATE_USER, REACTIVATE_USER):
            result = await mutate(fresh_world, CENTRAL_ADMIN, document, userId=user)
            assert result["__typename"] == "UserActivePayload", result
        assert (await ask(client, VIEWER_QUERY, csrf)).status_code == 401


async def test_text_that_is_not_ascii_is_refused_not_a_500(fresh_world: DemoWorld) -> None:
    async with browser(fresh_world) as client:
        csrf = await dev_sign_in(client, CENTRAL_ADMIN)
        not_ascii = ("é" + csrf[1:]).encode()
        refused = await client.post(
            "/graphql", json={"query": VIEWER_QUERY}, headers={b"X-CSRF-Token": not_ascii}
        )
        assert refused.status_code == 403
        signed_out = await client.post("/sign-out", headers={b"X-CSRF-Token": not_ascii})
        assert signed_out.status_code == 403
        client.cookies.clear()
        cookie = f"{SESSION_COOKIE}=é.1.é".encode()
        answer = await client.get(
            "/graphql", params={"query": VIEWER_QUERY}, headers={b"Cookie": cookie}
        )
        assert answer.status_code == 401
        fields = form_of((await client.get("/sign-in")).text, CENTRAL_ADMIN)
        answer = await client.post("/sign-in/dev", data={**fields, "form_token": "é"})
        assert answer.status_code == 400


async def test_the_development_page_is_for_this_machine_only(fresh_world: DemoWorld) -> None:
    app = create_app(fresh_world.settings, engine=fresh_world.engine)
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        page = await client.get("/sign-in")
        assert page.status_code == 200
        assert CENTRAL_ADMIN not in page.text
        answer = await client.post("/sign-in/dev", data={"subject": CENTRAL_ADMIN})
        assert answer.status_code == 404
        assert SESSION_COOKIE not in client.cookies


async def test_starting_sign_ins_spends_the_address_quota(
    fresh_world: DemoWorld, provider: JwksServer
) -> None:
    async with browser(fresh_world, failed_auth_per_minute=3, **oidc_settings(provider)) as client:
        for _ in range(3):
            assert (await client.head("/sign-in/oidc")).status_code == 303
        refused = await client.get("/sign-in/oidc")
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
    async with fresh_world.engine.connect() as connection:
        attempts = await connection.scalar(select(func.count()).select_from(SignInAttempt))
    assert attempts == 3
