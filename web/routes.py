"""The web app's routes: the dashboard's page at `/` and its assets under `/app/`."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

APP_ASSETS = Path(__file__).resolve().parent / "static" / "app"
# The app is one page of the server's own scripts and styles: nothing inline, nothing from
# another origin, never framed (a framed page could be clicked into a write).
APP_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "; ".join(
        (
            "default-src 'self'",
            "frame-ancestors 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
        )
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


async def dashboard(_request: Request) -> Response:
    # Always revalidated: a new release's page must not be kept beside old assets.
    return FileResponse(
        APP_ASSETS / "index.html",
        headers={**APP_HEADERS, "Cache-Control": "no-cache"},
    )


def web_routes() -> list[BaseRoute]:
    return [
        Route("/", dashboard),
        Mount("/app", StaticFiles(directory=APP_ASSETS), name="app"),
    ]
