"""A deadline for the statements one request runs, enforced inside SQLite itself.

A request past its time budget is ended by the HTTP edge (graph/request_bounds.py), but a
statement already running in aiosqlite's thread would run on, holding the connection and
the CPU, after nobody waits for it. So the edge sets `statement_deadline` for the request,
and each statement of that request (models/sqlite_driver.py) has SQLite look at the clock
every PROGRESS_STEPS instructions and stop once the deadline is past
(`StatementDeadlinePassed`). On PostgreSQL a serving engine's `statement_timeout` (the
budget and a little more, models/database.py) ends any statement that runs longer; a
request's running statement is waited for when the request is ended (the session lets a
statement finish rather than leave its connection in an unknown state,
models/shielded_session.py), so there the answer can take up to about twice the budget.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

# The time.monotonic() after which the current request's statements stop; None: no limit.
statement_deadline: ContextVar[float | None] = ContextVar(
    "congress_statement_deadline", default=None
)
# SQLite virtual machine instructions between two looks at the clock (~0.1 ms of work).
PROGRESS_STEPS = 10_000


class StatementDeadlinePassed(Exception):
    """A statement was stopped because its request ran past its time budget."""

    def __init__(self) -> None:
        super().__init__("The request ran past its time budget and was stopped.")


@dataclass(slots=True)
class DatabaseWaits:
    """How many of one request's database steps are under way (models/shielded_session.py
    counts them): a request still waiting on the database when its time budget ends was
    kept by the database, not by what it asked for."""

    under_way: int = 0
    # When the last step under way ended (time.monotonic()).
    last_ended_at: float = 0.0

    def waited_at(self, moment: float) -> bool:
        """Whether a step was under way at `moment`: one still is, or one ended after it
        (a step cut short by the request's end finishes after that end)."""
        return self.under_way > 0 or self.last_ended_at >= moment


# Set by the edge for each request it times (graph/request_bounds.py); None elsewhere.
database_waits: ContextVar[DatabaseWaits | None] = ContextVar(
    "congress_database_waits", default=None
)
