"""Errors a client is meant to read. Anything else is a bug and is masked in production."""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError, Node, VariableDefinitionNode
from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionContext

from graph.database_faults import database_fault, note_fault
from models.refusals import OutcomeUnknown
from models.statement_deadline import StatementDeadlinePassed

logger = logging.getLogger("congress.errors")

# The vocabulary of `extensions.code` (README, "Error answers").
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"
# The HTTP request itself is malformed (not JSON, not UTF-8, no query...): nothing was parsed.
BAD_REQUEST = "BAD_REQUEST"
# Over a limit of what one request may take (cost, objects, mutations, length, time).
COST_LIMIT = "COST_LIMIT"
# A user's or a client address's rate limit is spent for now (graph/rate_limits/).
RATE_LIMITED = "RATE_LIMITED"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
UNAUTHENTICATED = "UNAUTHENTICATED"
# A request that a browser session's cookie signs in changes state without the session's
# CSRF token (X-CSRF-Token): reload the page, which reads the token again.
CSRF_FAILED = "CSRF_FAILED"
UNAVAILABLE = "UNAVAILABLE"
# A request with writes ended before it could say how it went: one may have committed.
# Repeat it with the same idempotencyKey (the write happens once).
OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"
# On a live stream: reload (or resume from the last cursor) and subscribe again.
RESYNC_REQUIRED = "RESYNC_REQUIRED"
# The HTTP status of a response whose whole request failed with these codes; an unknown
# code is the server's failure.
HTTP_STATUS_OF_CODE: dict[str, int] = {
    PARSE_FAILED: 400,
    VALIDATION_FAILED: 400,
    BAD_USER_INPUT: 400,
    BAD_REQUEST: 400,
    COST_LIMIT: 400,
    UNAUTHENTICATED: 401,
    CSRF_FAILED: 403,
    RATE_LIMITED: 429,
    UNAVAILABLE: 503,
    OUTCOME_UNKNOWN: 503,
    INTERNAL_SERVER_ERROR: 500,
}


class ClientError(GraphQLError):
    """An expected failure, reported with a stable machine-readable `extensions.code`."""

    code = BAD_USER_INPUT

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": self.code, **extensions})


class CostLimitError(ClientError):
    """The request asks for more than one request may take (cost, objects, mutations,
    document length): the client should ask for less."""

    code = COST_LIMIT


class RateLimitedError(ClientError):
    """The user's rate-limit bucket is empty (graph/rate_limits/): try again after
    `retryAfterSeconds`. Answered with HTTP 429 and `Retry-After`."""

    code = RATE_LIMITED


class NotFoundError(ClientError):
    """The object does not exist *or is outside the viewer's scope*: the two are never told apart."""

    code = "NOT_FOUND"


class UnauthenticatedError(ClientError):
    """Sign in again (a live subscription whose user was deactivated, or whose token expired)."""

    code = UNAUTHENTICATED


class UnavailableError(ClientError):
    """Try again later; nothing was recorded."""

    code = UNAVAILABLE


class ResyncRequiredError(ClientError):
    """A live subscription cannot go on from where it is: reload, or resume from the last
    cursor, and subscribe again (the message says which)."""

    code = RESYNC_REQUIRED


def client_error_code(error: GraphQLError) -> str | None:
    """The `extensions.code` of a mistake the client made, or None for a bug.

    The client's mistakes: a document that does not parse (GRAPHQL_PARSE_FAILED) or does not
    validate (GRAPHQL_VALIDATION_FAILED), a variable graphql-core refused before any field ran
    (wrong type, missing: BAD_USER_INPUT), and our own ClientErrors; and, no bug either,
    the database's own failures (UNAVAILABLE).
    """
    original = error.original_error
    if isinstance(original, ClientError):
        return original.code
    if isinstance(original, StatementDeadlinePassed):
        return COST_LIMIT
    if isinstance(original, OutcomeUnknown):
        return OUTCOME_UNKNOWN
    if database_fault(original) is not None:
        # Not the client's mistake, nor a bug: the database's (AnswerDatabaseFaults words it).
        return UNAVAILABLE
    if isinstance(error, ClientError):
        return error.code
    if isinstance(error, GraphQLSyntaxError):
        return PARSE_FAILED
    if (
        error.path is None
        and original is not None
        and error.nodes
        and all(_defines_a_variable(node) for node in error.nodes)
    ):
        # graphql-core refuses a variable's value (the reason is the original error) at the
        # variable's definition; a validation rule's error there has no original error.
        return BAD_USER_INPUT
    if original is None:
        # graphql-core's own errors about the request as a whole: its validation rules.
        code = (error.extensions or {}).get("code")
        return str(code) if code else (VALIDATION_FAILED if error.path is None else BAD_USER_INPUT)
    return None


def _defines_a_variable(node: Node) -> bool:
    return isinstance(node, VariableDefinitionNode)


def error_code(error: GraphQLError) -> str:
    """The `extensions.code` every error goes out with."""
    return client_error_code(error) or INTERNAL_SERVER_ERROR


def is_client_error(error: GraphQLError) -> bool:
    """The client's mistakes are safe to show; everything else is a bug, masked in production."""
    return client_error_code(error) is not None


def request_id_of(execution_context: ExecutionContext | None) -> str:
    context = execution_context.context if execution_context else None
    return str(getattr(context, "request_id", "-"))


def log_unexpected_errors(
    errors: list[GraphQLError], execution_context: ExecutionContext | None
) -> None:
    """Log bugs with their traceback and request id; expected client errors are not logged,
    and a commit whose outcome the database left unknown goes to its incident log."""
    for error in errors:
        if isinstance(error.original_error, OutcomeUnknown):
            note_fault(error.original_error, request_id_of(execution_context))
        elif not is_client_error(error):
            logger.error(
                "request %s: %s",
                request_id_of(execution_context),
                error.message,
                exc_info=error.original_error,
            )


def _answered_as_unavailable(error: GraphQLError) -> bool:
    """A database fault, but not a commit whose outcome it left unknown (OUTCOME_UNKNOWN)."""
    original = error.original_error
    return not isinstance(original, OutcomeUnknown) and database_fault(original) is not None


class AnswerDatabaseFaults(MaskErrors):
    """In every mode, an error the database's own failure caused (graph/database_faults.py)
    goes out in our words, with `retryAfterSeconds`, and is written to the incident log;
    the driver's text and the SQL never reach the client. It is UNAVAILABLE (nothing was
    recorded) unless a write of the request had gone to be committed: then the fault may
    have come after the commit (while its answer was being read back, say), and it is
    OUTCOME_UNKNOWN, which only a repeat with the same idempotency key settles."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_answered_as_unavailable)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = request_id_of(self.execution_context)
        fault = note_fault(error.original_error or error, request_id)
        assert fault is not None  # should_mask_error said so
        context = self.execution_context.context if self.execution_context else None
        after_a_write = bool(getattr(context, "writes_sent", False))
        return GraphQLError(
            message=OutcomeUnknown.MESSAGE if after_a_write else fault.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={
                "code": OUTCOME_UNKNOWN if after_a_write else UNAVAILABLE,
                "retryAfterSeconds": fault.retry_after_seconds,
                "requestId": request_id,
            },
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
            extensions={"code": INTERNAL_SERVER_ERROR, "requestId": request_id},
        )
