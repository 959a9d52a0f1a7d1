"""The one rule: a viewer sees only the subtrees rooted at their assignments.

A `Scope` is the set of those subtree roots, as materialized paths. Every statement that
reads committees (or anything hanging off them) filters with `Scope.condition`, and every
climb up the tree (parent, ancestors) stops at `Scope.is_root`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import SQLColumnExpression, false, or_
from sqlalchemy.sql.elements import ColumnElement

from models.tree import is_in_subtree, path_prefixes, subtree_condition


@dataclass(frozen=True, slots=True)
class Scope:
    """Non-overlapping subtree roots, sorted; empty means the viewer sees nothing."""

    root_paths: tuple[str, ...]

    @classmethod
    def from_paths(cls, paths: Iterable[str]) -> Scope:
        """Drop roots that sit inside another root, so each visible node has exactly one root."""
        roots: list[str] = []
        for path in sorted(set(paths)):
            if not roots or not is_in_subtree(path, roots[-1]):
                roots.append(path)
        return cls(tuple(roots))

    def contains(self, path: str) -> bool:
        return any(is_in_subtree(path, root) for root in self.root_paths)

    def is_root(self, path: str) -> bool:
        return path in self.root_paths

    def visible_lineage(self, path: str) -> list[str]:
        """Paths of the visible ancestors of `path` and of `path` itself, from the scope root down."""
        return [prefix for prefix in path_prefixes(path) if self.contains(prefix)]

    def condition(self, path_column: SQLColumnExpression[str]) -> ColumnElement[bool]:
        """SQL for "path_column is inside this scope": one index range per root."""
        if not self.root_paths:
            return false()
        return or_(*(subtree_condition(path_column, root) for root in self.root_paths))

    def narrowed_to(self, path: str) -> Scope:
        """The part of this scope inside the subtree of `path` (empty if they do not meet)."""
        if self.contains(path):
            return Scope((path,))
        return Scope(tuple(root for root in self.root_paths if is_in_subtree(root, path)))
