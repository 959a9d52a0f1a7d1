"""Why an action was refused, as typed exceptions the GraphQL edge turns into error types.

The rule of scope decides which one: an object outside the viewer's subtrees is always
`NotVisible` (exactly as if it did not exist), and `NotAllowed` is only ever said about an
object the viewer can see.
"""

from __future__ import annotations

# What an id that names no visible committee gets, wherever it is sent.
NO_COMMITTEE = "No committee found."


class Refusal(Exception):
    """An expected refusal; nothing it interrupted is kept (the transaction rolls back)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotVisible(Refusal):
    """No such object, or one outside the viewer's scope: the two are never told apart."""


class NotAllowed(Refusal):
    """The viewer can see the object but their role does not let them do this to it."""


class Invalid(Refusal):
    """The input breaks a rule; `field` names the input field."""


class Conflicting(Refusal):
    """The request contradicts the current state (a taken code, the last admin, ...)."""


class StaleVersion(Refusal):
    """The object changed since the client read it: `current_version` is what it is now."""

    def __init__(self, message: str, *, current_version: int, row_id: int) -> None:
        super().__init__(message, field="expectedVersion")
        self.current_version = current_version
        self.row_id = row_id


class Contention(Exception):
    """Another writer changed the row between this request's read and its write. Not a
    refusal: the whole change is run again on fresh reads (domain/unit_of_work.py)."""


class OutcomeUnknown(Exception):
    """The connection to the database failed while a write's commit was on its way: it may
    or may not be recorded. Not a refusal, and not retried here (a second attempt could
    record it twice): the client repeats it with the same idempotency key, which finds
    the first if it was recorded (graph/errors.py answers OUTCOME_UNKNOWN)."""

    MESSAGE = (
        "The database failed while this write was being recorded: it may or may not be. "
        "Repeat it with the same idempotencyKey; it happens once."
    )

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)
