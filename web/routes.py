"""The web app's routes: the dashboard's page at `/`, its assets under `/app/`, the
server-rendered pages' style, and signing in and out (web/sign_in.py)."""

from __future__ import annotations

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


async def dashboard(_request: Request) -> Response:
    # Served with or without a session: the server never sees a link's `#/c/X00004`, so
    # only the page can keep it through signing in (its first request's 401 sends it to
    # /sign-in?next=/#/c/X00004).
    return FileResponse(APP_ASSETS / "index.html", headers=PAGE_HEADERS)


async def pages_style(_request: Request) -> Response:
    return FileResponse(STATIC / "pages.css", headers={"Cache-Control": "no-cache"})


async def icon(_request: Request) -> Response:
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


def web_routes(sign_in: BrowserSignIn) -> list[BaseRoute]:
    return [
        Route("/", dashboard),
        Route("/pages.css", pages_style),
        Route("/favicon.svg", icon),
        *sign_in.routes(),
        # Compressed (a third of the bytes on a weak link); revalidated by ETag.
        Mount(
            "/app",
            StaticFiles(directory=APP_ASSETS),
            name="app",
            middleware=[Middleware(GZipMiddleware, minimum_size=1024)],
        ),
    ]
