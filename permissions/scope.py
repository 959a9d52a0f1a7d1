"""The one rule: a viewer sees only the subtrees rooted at their assignments.

A `Scope` is the set of those subtree roots, as materialized paths. Every statement that
reads committees (or anything hanging off them) filters with `Scope.condition`, and every
climb up the tree (parent, ancestors) stops at `Scope.is_root`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import SQLColumnExpression, bindparam, false, or_
from sqlalchemy.sql.elements import ColumnElement

from models.tree import (
    is_in_subtree,
    path_prefixes,
    path_range,
    path_upper_bound,
    subtree_condition,
)


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

    def parameters(self) -> dict[str, str]:
        """The values of `condition_with_parameters(column, len(root_paths))`."""
        values: dict[str, str] = {}
        for number, root in enumerate(self.root_paths):
            values[_ROOT_PARAMETER.format(number)] = root
            values[_END_PARAMETER.format(number)] = path_upper_bound(root)
        return values

    def narrowed_to(self, path: str) -> Scope:
        """The part of this scope inside the subtree of `path` (empty if they do not meet)."""
        if self.contains(path):
            return Scope((path,))
        return Scope(tuple(root for root in self.root_paths if is_in_subtree(root, path)))


_ROOT_PARAMETER = "scope_root_{}"
_END_PARAMETER = "scope_end_{}"


def condition_with_parameters(
    path_column: SQLColumnExpression[str], roots: int
) -> ColumnElement[bool]:
    """`Scope.condition` of any scope with `roots` roots, its paths left as bound parameters
    (filled by `Scope.parameters()`). A hot statement built with it is built once for
    every viewer rather than once per request: building costs more than running it."""
    if roots == 0:
        return false()
    return or_(
        *(
            path_range(
                path_column,
                # Untyped: each takes the path column's type, as literal paths do.
                bindparam(_ROOT_PARAMETER.format(number)),
                bindparam(_END_PARAMETER.format(number)),
            )
            for number in range(roots)
        )
    )
