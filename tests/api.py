"""Drive the API as a client would: HTTP requests with bearer tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from config import Settings
from graph.app import create_app
from permissions.tokens import LocalIssuer

TOKEN_TTL_SECONDS = 3600


@asynccontextmanager
async def app_client(
    settings: Settings, engine: AsyncEngine, **client_options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the whole app (`create_app`) in this process."""
    transport = httpx.ASGITransport(app=create_app(settings, engine=engine))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", **client_options
    ) as http:
        yield http


@dataclass(frozen=True)
class GraphQLClient:
    """An HTTP client bound to the app, sending queries as one user (or as nobody)."""

    http: httpx.AsyncClient
    issuer: LocalIssuer

    def token_for(self, subject: str) -> str:
        return self.issuer.issue(subject, TOKEN_TTL_SECONDS)

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def query(self, subject: str, query: str, **variables: Any) -> dict[str, Any]:
        """Run `query` as the user `subject`; the response must be 200 with no errors."""
        response = await self.post(query, variables, token=self.token_for(subject))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def query_errors(
        self, subject: str, query: str, **variables: Any
    ) -> list[dict[str, Any]]:
        """Run `query` as `subject` and return its GraphQL errors (there must be some)."""
        response = await self.post(query, variables, token=self.token_for(subject))
        body: dict[str, Any] = response.json()
        assert body.get("errors"), body
        errors: list[dict[str, Any]] = body["errors"]
        return errors


@contextmanager
def counted_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements `engine` runs within the block."""
    statements: list[str] = []

    def count(_connection: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
