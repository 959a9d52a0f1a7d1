"""The typed ORM: tables, sessions, tree helpers and migrations."""

from models.audit import AuditEntry
from models.base import Base
from models.browser_sessions import BrowserSession, SignInAttempt
from models.change_feed import ChangeFeedEntry
from models.congress import (
    Congress,
    CongressStatus,
    MilestoneStatus,
    MilestoneTemplate,
    ReportDeadline,
    Term,
)
from models.difficulties import (
    Difficulty,
    DifficultyCategory,
    DifficultyEvent,
    DifficultyEventKind,
    DifficultyStatus,
)
from models.progress import CongressEvent, CongressMilestone, CongressResult, IdempotencyRecord
from models.report_rows import CongressReport, ReportState
from models.rollups import ProgressRollup, ProgressRollupDay
from models.server_keys import ServerKey
from models.tree import Committee, CommitteeKind
from models.users import Assignment, Role, User

__all__ = [
    "Assignment",
    "AuditEntry",
    "Base",
    "BrowserSession",
    "ChangeFeedEntry",
    "Committee",
    "CommitteeKind",
    "Congress",
    "CongressEvent",
    "CongressMilestone",
    "CongressReport",
    "CongressResult",
    "CongressStatus",
    "Difficulty",
    "DifficultyCategory",
    "DifficultyEvent",
    "DifficultyEventKind",
    "DifficultyStatus",
    "IdempotencyRecord",
    "MilestoneStatus",
    "MilestoneTemplate",
    "ProgressRollup",
    "ProgressRollupDay",
    "ReportDeadline",
    "ReportState",
    "Role",
    "ServerKey",
    "SignInAttempt",
    "Term",
    "User",
]
