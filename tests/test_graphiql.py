"""GraphiQL works with no internet access: its page and every script and style it loads
come from this server, as vendored by tools/vendor_graphiql.py, and a reload with the
query GraphiQL keeps in the URL shows the page again rather than a 401."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import tomllib
from pathlib import Path

import httpx

from graph.app import create_app
from models import Role
from models.demo import CENTRAL_CODE
from tests.conftest import DemoWorld, demo_user

CENTRAL_VIEWER = demo_user(Role.VIEWER, CENTRAL_CODE)

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "graph" / "static"
# What a browser's navigation sends.
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
REFERENCE = re.compile(r"""(?:src|href)\s*=\s*"([^"]*)\"""")


def vendored() -> dict[str, str]:
    """Each vendored file and the sha256 its package gave it (SOURCES.json)."""
    sources = json.loads((STATIC / "graphiql" / "SOURCES.json").read_text())
    return {name: digest for source in sources for name, digest in source["files"].items()}


async def test_the_page_loads_everything_from_this_server(demo_world: DemoWorld) -> None:
    http = demo_world.client.http
    page = await http.get("/graphql", headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    references = [ref for ref in REFERENCE.findall(page.text) if not ref.startswith("data:")]
    assert len(references) == 6
    expected = vendored()
    for reference in references:
        # Relative to /graphql: no other origin, no scheme, no protocol-relative URL.
        assert reference.startswith("static/graphiql/"), reference
        asset = await http.get(f"/{reference}")
        assert asset.status_code == 200, reference
        kind = "javascript" if reference.endswith(".js") else "css"
        assert kind in asset.headers["content-type"], (reference, asset.headers["content-type"])
        name = reference.removeprefix("static/graphiql/")
        assert hashlib.sha256(asset.content).hexdigest() == expected[name]
    assert "unpkg.com" not in page.text
    assert "cdn" not in page.text.lower()
    # It keeps the pasted token in the browser: no other site may frame it, and it may
    # load nothing from elsewhere.
    assert page.headers["x-frame-options"] == "DENY"
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'self'" in policy
    assert "parameters.headers" not in page.text  # a link cannot set the token


async def test_a_reload_with_the_query_in_the_url_shows_the_page(demo_world: DemoWorld) -> None:
    http = demo_world.client.http
    for params in (
        {"query": "{ viewer { subject } }"},
        {"q": "{ viewer { subject } }", "variables": "{}"},
    ):
        page = await http.get("/graphql", params=params, headers={"Accept": BROWSER_ACCEPT})
        assert page.status_code == 200, params
        assert "graphiql" in page.text.lower()
    # A GraphQL client asking for JSON still needs its token.
    asked = await http.get(
        "/graphql",
        params={"query": "{ viewer { subject } }"},
        headers={"Accept": "application/json"},
    )
    assert asked.status_code == 401
    # A request with a token is an API call, whatever it accepts.
    token = demo_world.client.token_for(CENTRAL_VIEWER)
    called = await http.get(
        "/graphql",
        params={"query": "{ viewer { subject } }"},
        headers={"Accept": BROWSER_ACCEPT, "Authorization": f"Bearer {token}"},
    )
    assert called.status_code == 200
    assert called.json()["data"]["viewer"]["subject"] == CENTRAL_VIEWER


async def test_without_graphiql_its_assets_are_not_served(demo_world: DemoWorld) -> None:
    app = create_app(demo_world.settings.with_(graphiql=False), engine=demo_world.engine)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        asset = await http.get("/static/graphiql/graphiql.min.js")
    assert asset.status_code == 404


def test_the_vendored_files_are_what_their_packages_published() -> None:
    sources = json.loads((STATIC / "graphiql" / "SOURCES.json").read_text())
    for source in sources:
        assert source["integrity"].startswith("sha512-")
        assert source["licence"] == "MIT"
        for name, digest in source["files"].items():
            assert hashlib.sha256((STATIC / "graphiql" / name).read_bytes()).hexdigest() == digest
    licences = {path.name for path in (STATIC / "graphiql").glob("LICENSE.*")}
    assert licences == {"LICENSE.react", "LICENSE.react-dom", "LICENSE.graphiql"}


def test_the_installed_package_carries_every_static_file() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["graph"]
    for path in STATIC.rglob("*"):
        if path.is_file():
            relative = str(path.relative_to(ROOT / "graph"))
            assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative
