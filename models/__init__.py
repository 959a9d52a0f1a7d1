"""The typed ORM: tables, sessions, tree helpers and migrations."""

from models.audit import AuditEntry
from models.base import Base
from models.congress import Congress, MilestoneTemplate, Term
from models.tree import Committee, CommitteeKind
from models.users import Assignment, Role, User

__all__ = [
    "Assignment",
    "AuditEntry",
    "Base",
    "Committee",
    "CommitteeKind",
    "Congress",
    "MilestoneTemplate",
    "Role",
    "Term",
    "User",
]
