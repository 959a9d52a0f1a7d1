"""The web app's routes: the dashboard's page at `/`, its assets under `/app/`, its
service worker at `/sw.js`, the server-rendered pages' style, and signing in and out
(web/sign_in.py)."""

from __future__ import annotations

import hashlib
import json
import mimetypes
from functools import cache
from pathlib import Path

from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from web.pages import PAGE_HEADERS
from web.sign_in import BrowserSignIn

STATIC = Path(__file__).resolve().parent / "static"
APP_ASSETS = STATIC / "app"
# Chrome reads a manifest of any type, but the standard one says what the file is.
mimetypes.add_type("application/manifest+json", ".webmanifest")


@cache
def service_worker_script() -> str:
    """web/static/service-worker.js, told the app's assets and a version made of their
    contents: a release that changes any of them installs a new cache on the phones."""
    assets = sorted(
        path for path in APP_ASSETS.rglob("*") if path.is_file() and path.name != "index.html"
    )
    digest = hashlib.sha256()
    for path in [APP_ASSETS / "index.html", *assets]:
        digest.update(path.relative_to(APP_ASSETS).as_posix().encode())
        digest.update(path.read_bytes())
    shell = [f"/app/{path.relative_to(APP_ASSETS).as_posix()}" for path in assets]
    return (
        f"const VERSION = {json.dumps(digest.hexdigest()[:16])};\n"
        f"const SHELL = {json.dumps(shell)};\n"
        + (STATIC / "service-worker.js").read_text(encoding="utf-8")
    )


async def dashboard(_request: Request) -> Response:
    # Served with or without a session: the server never sees a link's `#/c/X00004`, so
    # only the page can keep it through signing in (its first request's 401 sends it to
    # /sign-in?next=/#/c/X00004).
    return FileResponse(APP_ASSETS / "index.html", headers=PAGE_HEADERS)


async def pages_style(_request: Request) -> Response:
    return FileResponse(STATIC / "pages.css", headers={"Cache-Control": "no-cache"})


async def service_worker(_request: Request) -> Response:
    # Checked again on every visit (browsers do at least once a day): a release reaches the
    # phones on their next visit, not whenever an HTTP cache lets go of the old script.
    return Response(
        service_worker_script(),
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache"},
    )


async def icon(_request: Request) -> Response:
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


def web_routes(sign_in: BrowserSignIn) -> list[BaseRoute]:
    return [
        Route("/", dashboard),
        Route("/pages.css", pages_style),
        Route("/favicon.svg", icon),
        Route("/sw.js", service_worker),
        *sign_in.routes(),
        # Compressed (a third of the bytes on a weak link); revalidated by ETag.
        Mount(
            "/app",
            StaticFiles(directory=APP_ASSETS),
            name="app",
            middleware=[Middleware(GZipMiddleware, minimum_size=1024)],
        ),
    ]
