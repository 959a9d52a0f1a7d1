"""Errors a client is meant to read. Anything else is a bug and is masked in production."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError


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
