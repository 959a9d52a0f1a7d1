"""Seeing the API run: `/metrics`, `/health/live`, `/health/ready`, and a JSON access line
per request. Other code feeds it through `graph.observability.metrics` (`observe_cost`,
`count_refusal`, `record_write_retry`) and `COST_STATE_KEY` in `access_log`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import Route

from config import Settings
from graph.observability.health import health_routes
from graph.observability.metrics_endpoint import metrics_route

if TYPE_CHECKING:
    from graph.rate_limits.buckets import Buckets


def observability_routes(settings: Settings, engine: AsyncEngine, buckets: Buckets) -> list[Route]:
    """The routes create_app adds: /metrics, /health/live, /health/ready."""
    return [metrics_route(settings, engine, buckets), *health_routes(engine, buckets)]
