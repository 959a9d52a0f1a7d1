"""The web app's routes: the dashboard's page at `/`, its assets under `/app/`, the
server-rendered pages' style, and signing in and out (web/sign_in.py)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from permissions.browser_sessions import SESSION_COOKIE
from web.pages import PAGE_HEADERS
from web.sign_in import SIGN_IN_PATH, BrowserSignIn

STATIC = Path(__file__).resolve().parent / "static"
APP_ASSETS = STATIC / "app"


async def dashboard(request: Request) -> Response:
    if SESSION_COOKIE not in request.cookies:
        # Straight to signing in: one round trip fewer on a weak link than letting the
        # page find out. A cookie that no longer signs in is found out by the page (401).
        return RedirectResponse(f"{SIGN_IN_PATH}?{urlencode({'next': '/'})}", status_code=303)
    return FileResponse(APP_ASSETS / "index.html", headers=PAGE_HEADERS)


async def pages_style(_request: Request) -> Response:
    return FileResponse(STATIC / "pages.css", headers={"Cache-Control": "no-cache"})


def web_routes(sign_in: BrowserSignIn) -> list[BaseRoute]:
    return [
        Route("/", dashboard),
        Route("/pages.css", pages_style),
        *sign_in.routes(),
        Mount("/app", StaticFiles(directory=APP_ASSETS), name="app"),
    ]
