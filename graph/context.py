"""The typed per-request Context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info as StrawberryInfo

from config import Settings
from graph.loaders import Loaders
from graph.progress_loaders import ProgressLoaders
from graph.term_catalog import TermCatalog
from permissions.viewer import Viewer

if TYPE_CHECKING:
    # The writer and the live half import modules that import this one.
    from domain.milestone_writer import MilestoneWriter
    from graph.live.service import Live


@dataclass(slots=True)
class Context:
    settings: Settings
    session: AsyncSession
    viewer: Viewer
    request_id: str
    # Terms and templates: configuration shared by the whole tree, not scoped data, and
    # cached per process rather than loaded per request (graph/term_catalog.py).
    terms: TermCatalog
    # Milestone writes arriving together share one transaction (domain/milestone_writer.py).
    milestones: MilestoneWriter
    # The worker's live half (graph/live/), for subscriptions.
    live: Live | None = None
    # A websocket or an event stream: subscriptions only (graph/schema/streams.py).
    streaming: bool = False
    # When the token of an event stream expires (epoch seconds): the stream ends then. A
    # websocket's handler closes the socket itself (graph/live/connections.py).
    expires_at: float | None = None
    # Whether a write of this request went to be committed: a database fault after that may
    # have come after the commit (graph/errors.py answers OUTCOME_UNKNOWN, not UNAVAILABLE).
    writes_sent: bool = False
    loaders: Loaders = field(init=False)
    progress: ProgressLoaders = field(init=False)

    def __post_init__(self) -> None:
        self.reset_loaders()

    def note_write_sent(self) -> None:
        self.writes_sent = True

    def reset_loaders(self) -> None:
        """Forget every cached read: after a mutation commits, later fields see its result."""
        self.loaders = Loaders(self.session, self.viewer)
        self.progress = ProgressLoaders(self.session, self.viewer.scope)


Info = StrawberryInfo[Context, None]
