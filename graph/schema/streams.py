"""A websocket or an event stream carries subscriptions only.

Queries and mutations are HTTP requests: there they are signed in anew, rate-limited,
timed and shed under load. Over a long-lived connection they would skip all of that (and
run on the viewer the connection signed in as, hours ago), so they are refused there
before they run, with a message saying where to send them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import OperationType, get_operation_ast
from strawberry.extensions import SchemaExtension

from graph.errors import ClientError


class StreamsCarrySubscriptionsOnly(SchemaExtension):
    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        document = context.graphql_document
        operation = (
            None if document is None else get_operation_ast(document, context.operation_name)
        )
        streaming = getattr(context.context, "streaming", False)
        if (
            streaming
            and operation is not None
            and operation.operation != OperationType.SUBSCRIPTION
        ):
            raise ClientError(
                "Only subscriptions are served over a websocket or an event stream: send "
                "queries and mutations as HTTP requests to /graphql."
            )
        yield
