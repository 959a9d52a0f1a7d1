"""Errors a client is meant to read. Anything else is a bug and is masked in production."""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionContext

logger = logging.getLogger("congress.errors")


class ClientError(GraphQLError):
    """An expected failure, reported with a stable machine-readable `extensions.code`."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": self.code, **extensions})


class NotFoundError(ClientError):
    """The object does not exist *or is outside the viewer's scope*: the two are never told apart."""

    code = "NOT_FOUND"


def is_client_error(error: GraphQLError) -> bool:
    """Validation errors and our own ClientErrors are safe to show; everything else is masked."""
    original = error.original_error
    return original is None or isinstance(original, ClientError)


def request_id_of(execution_context: ExecutionContext | None) -> str:
    context = execution_context.context if execution_context else None
    return str(getattr(context, "request_id", "-"))


def log_unexpected_errors(
    errors: list[GraphQLError], execution_context: ExecutionContext | None
) -> None:
    """Log bugs with their traceback and request id; expected client errors are not logged."""
    for error in errors:
        if not is_client_error(error):
            logger.error(
                "request %s: %s",
                request_id_of(execution_context),
                error.message,
                exc_info=error.original_error,
            )


class MaskUnexpectedErrors(MaskErrors):
    """In production, a bug's message becomes a generic one carrying the request id."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda error: not is_client_error(error))

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = request_id_of(self.execution_context)
        return GraphQLError(
            message=f"Unexpected error. Quote request id {request_id} when reporting it.",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        )
