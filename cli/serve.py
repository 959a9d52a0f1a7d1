"""`congress serve`: run the API under uvicorn."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType
from typing import Any

import click
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from cli.bounded_headers import BoundedHeadersProtocol
from cli.demo import activity_option, cells_option, ensure_demo, print_demo_tokens
from cli.runtime import display_url, pass_settings, run_with_engine
from cli.websocket_protocol import LeanWebSocketProtocol
from config import Settings

# How often a quiet websocket is pinged, and how long the answer may take.
WS_PING_SECONDS = 20.0
APP_FACTORY = "graph.app:create_app_from_env"
# uvicorn's status for a server that never started.
STARTUP_FAILURE = 3


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--demo", "with_demo", is_flag=True, help="Build the demo tree first if the database is empty."
)
@cells_option
@activity_option
@pass_settings
def serve(
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    with_demo: bool,
    cells_per_commune: int,
    activity: bool,
) -> None:
    """Serve the GraphQL API at /graphql (GraphiQL in development)."""

    async def prepare(engine: AsyncEngine) -> None:
        if with_demo:
            users = await ensure_demo(engine, cells_per_commune, activity)
            print_demo_tokens(settings, users, f"http://{host}:{port}")

    # Migrate once here, not in every worker.
    run_with_engine(settings, prepare)
    click.echo(f"Serving {display_url(settings)} on http://{host}:{port}/graphql", err=True)
    # Workers are fresh processes: they rebuild the same Settings from the environment.
    os.environ.update(settings.to_env())
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "proxy_headers": True,
        # uvicorn's own protocol reads headers without end (cli/bounded_headers.py).
        "http": BoundedHeadersProtocol,
        # Each request is logged once, as JSON, by the app (graph/observability/access_log.py).
        "access_log": False,
        # Live subscriptions (graph/live/): a compression context costs ~40 KB a socket, more
        # than a subscriber's state; a dead peer is found by uvicorn's pings, since
        # graphql-transport-ws servers do not ping.
        "ws_per_message_deflate": False,
        # Thousands of idle sockets a worker: uvicorn's protocol keeping less for each.
        "ws": LeanWebSocketProtocol,
        "ws_ping_interval": WS_PING_SECONDS,
        "ws_ping_timeout": WS_PING_SECONDS,
        # On SIGTERM or SIGINT: stop accepting, let requests in flight finish this long, then
        # end the rest (and close streams); the process then exits with status 0.
        "timeout_graceful_shutdown": settings.shutdown_timeout_seconds,
    }
    if workers > 1:
        # uvicorn's supervisor, which stops its workers and exits 0 itself.
        uvicorn.run(APP_FACTORY, **options)
        return
    config = uvicorn.Config(APP_FACTORY, **options)
    config.load_app()
    server = uvicorn.Server(config)
    # uvicorn restores the handlers it found once it has stopped, then raises the signal it
    # stopped for again: with Python's defaults that ends the process with 143 (or 130),
    # which a supervisor reads as a crash. With these it has been handled: status 0.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _already_stopped)
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def _already_stopped(_signal: int, _frame: FrameType | None) -> None:
    """The signal uvicorn raises again after its clean shutdown: nothing is left to do."""
