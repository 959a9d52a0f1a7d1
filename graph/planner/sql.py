"""Answers built by the database: a page of children, all the way down, as JSON in one statement.

For `children(...)` whose whole selection is columns, connections and congresses (what a
tree page asks for), the planner does not load rows and complete objects in Python: it
writes one statement that returns, for each parent, the field's answer as JSON text
(SQLite's `json_object`/`json_group_array`; on PostgreSQL, `to_json` values joined with
`||` and `string_agg`, since its JSON functions put spaces in the text), nested pages
included, and that text goes into the response as it is (graph/response_json.py). The
answer is the value graphql-core would complete, key for key, written the same way, so
the bytes are the same (tests/test_planned_reads.py compares them): the keys are the
query's response keys in the plan's order, ids and cursors are the same base64 text
(`congress_b64` on SQLite, models/database.py), enums are mapped from the stored value to
the GraphQL name by the field's own GraphQL type.

The scope comes from `permissions.scope`: the parents are checked against the viewer's
scope (their children are in the same subtree) and a cursor names a node only inside it.
A selection with anything else (a field with a resolver, an argument it does not know)
is not built here (`NotSql`) and the planner reads that field the usual way.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any

from graphql import GraphQLEnumType, GraphQLLeafType
from graphql.execution.values import VariableValues, get_argument_values
from sqlalchemy import bindparam, column, table, text
from sqlalchemy.sql.elements import ColumnElement, TextClause

from graph.context import Context
from graph.global_ids import row_id_of
from graph.planner.fields import (
    RELAY_PART,
    SQL_COLUMN,
    RelayPart,
    SqlColumn,
    SqlRelation,
)
from graph.planner.plan import Completion, FieldPlan, ObjectPlan, Read
from graph.resolvers.committees import COMMITTEE_TYPE, term_named
from graph.resolvers.pagination import decode_cursor, page_size
from graph.response_json import RawJson
from permissions.scope import Scope, condition_with_parameters


class NotSql(Exception):
    """The field's selection holds something this module does not build."""


@dataclass
class _Statement:
    """The SQL text of one answer and its bound values, built for one request."""

    dialect: str
    scope: Scope
    values: dict[str, Any] = field(default_factory=dict)
    aliases: int = 0

    def alias(self, prefix: str) -> str:
        self.aliases += 1
        return f"{prefix}{self.aliases}"

    def bind(self, value: Any) -> str:
        name = f"v{len(self.values)}"
        self.values[name] = value
        return f":{name}"

    @property
    def sqlite(self) -> bool:
        return self.dialect == "sqlite"

    # JSON, written for each database as the text a response holds: compact, UTF-8 (see
    # graph/response_json.py). SQLite's JSON functions write that text; PostgreSQL's put
    # spaces in it, so there the text is put together with `||`. Every expression below
    # is a JSON value: SQLite's functions take SQL values and quote them themselves, on
    # PostgreSQL `value` turns an SQL value into its JSON text.

    def value(self, expression: str) -> str:
        """The JSON of an SQL value (a column, a count, a string); null for NULL."""
        if self.sqlite:
            return expression
        return f"coalesce(to_json({expression})::text, 'null')"

    def string(self, constant: str) -> str:
        """A constant string (a GraphQL name: nothing to escape)."""
        return f"'{constant}'" if self.sqlite else f"'\"{constant}\"'"

    def null(self) -> str:
        return "NULL" if self.sqlite else "'null'"

    def json_object(self, pairs: Sequence[tuple[str, str]]) -> str:
        # Response keys are GraphQL names ([_A-Za-z][_0-9A-Za-z]*): safe between quotes.
        if self.sqlite:
            arguments = ", ".join(f"'{key}', {value}" for key, value in pairs)
            return f"json_object({arguments})"
        if not pairs:  # every field skipped by a directive
            return "'{}'::text"
        members = " || ',' || ".join(f"'\"{key}\":' || {value}" for key, value in pairs)
        # Typed: `||` between two untyped literals (a constant value) has no meaning.
        return f"('{{'::text || {members} || '}}')"

    def json_of_subquery(self, subquery: str) -> str:
        """A subquery's JSON value nested in an object (SQLite forgets it is JSON)."""
        return f"json(({subquery}))" if self.sqlite else f"coalesce(({subquery}), 'null')"

    def value_of_subquery(self, subquery: str) -> str:
        """A subquery's value (as `value` and `base64` write them) or null for no row."""
        return f"({subquery})" if self.sqlite else f"coalesce(({subquery}), 'null')"

    def boolean(self, condition: str) -> str:
        if self.sqlite:
            return f"json(CASE WHEN {condition} THEN 'true' ELSE 'false' END)"
        return f"(CASE WHEN {condition} THEN 'true' ELSE 'false' END)"

    def array(self, element: str, rows: str, alias: str, order_by: str) -> str:
        """The JSON array of `element` over `rows` (a subquery already in order)."""
        if self.sqlite:
            # SQLite aggregates the rows of an ordered subquery in its order. The element is
            # a json_object(...) call, which json_group_array takes as JSON as it is; only the
            # subquery's result needs json() to be taken as JSON again.
            return f"json((SELECT json_group_array({element}) FROM ({rows}) AS {alias}))"
        return (
            f"(SELECT '[' || coalesce(string_agg({element}, ',' ORDER BY {alias}.{order_by}), "
            f"'') || ']' FROM ({rows}) AS {alias})"
        )

    def base64(self, prefix: str, row_id: str, *, urlsafe: bool) -> str:
        """base64 of `prefix` followed by the id's digits: global ids and cursors."""
        if self.sqlite:
            function = "congress_b64url" if urlsafe else "congress_b64"
            return f"{function}('{prefix}' || {row_id})"
        encoded = f"encode(convert_to('{prefix}' || {row_id}, 'UTF8'), 'base64')"
        return self.value(f"translate({encoded}, '+/', '-_')" if urlsafe else encoded)

    def in_scope(self, alias: str) -> str:
        """The viewer's scope on `alias`.path, from permissions.scope, its values bound."""
        self.values.update(self.scope.parameters())
        return _scope_condition(alias, len(self.scope.root_paths))


# Aliases are numbered per statement and scopes have few roots: a handful of texts in all.
_SCOPE_CONDITIONS_CACHED = 256


@lru_cache(maxsize=_SCOPE_CONDITIONS_CACHED)
def _scope_condition(alias: str, scope_roots: int) -> str:
    """`condition_with_parameters` on `alias`.path as SQL text, compiled once (a compile
    costs ~0.14 ms, as much as a small statement)."""
    condition: ColumnElement[bool] = condition_with_parameters(
        table("committee", column("path")).alias(alias).c.path, scope_roots
    )
    return f"({condition.compile(compile_kwargs={'render_postcompile': False})})"


# A plan writes the same text for every request (the values are bound): parsing it into
# a TextClause costs ~0.1 ms for a page of pages, so the clause is kept with its text.
_STATEMENTS_KEPT = 256


@lru_cache(maxsize=_STATEMENTS_KEPT)
def _statement_of(sql: str) -> TextClause:
    statement = text(sql)
    if ":parent_ids" in sql:
        statement = statement.bindparams(bindparam("parent_ids", expanding=True))
    return statement


GLOBAL_ID_PREFIX = "{}:"
CURSOR_PREFIX = "cursor:"


async def read_in_sql(
    plan: FieldPlan,
    context: Context,
    sources: Sequence[Any],
    variables: VariableValues,
) -> list[Any]:
    """The answer of `plan` for each source (a `children` field of committees, or a root
    `committee` field), or NotSql."""
    batch = plan.batch
    assert batch is not None
    if batch.sql is None or not _buildable(plan, batch.sql):
        raise NotSql(plan.key)
    if batch.sql is SqlRelation.COMMITTEE:
        return [await _read_committee(plan, context, variables)] * len(sources)
    session = context.session
    statement = _Statement(session.get_bind().dialect.name, context.viewer.scope)
    parent = statement.alias("p")
    answer = await _connection(statement, plan, parent, context, variables)
    sql = (
        f"SELECT {parent}.id, {answer} FROM committee AS {parent} "
        f"WHERE {parent}.id IN :parent_ids AND {statement.in_scope(parent)}"
    )
    query = _statement_of(sql)
    rows = await session.execute(
        query, {**statement.values, "parent_ids": [source.row.id for source in sources]}
    )
    # The JSON's text, written into the response as it is (graph/response_json.py).
    answers = {row_id: RawJson(value) for row_id, value in rows if value is not None}
    # A parent moved out of the scope since it was read has no row: the usual read answers.
    if any(source.row.id not in answers for source in sources):
        raise NotSql(plan.key)
    return [answers[source.row.id] for source in sources]


async def _read_committee(plan: FieldPlan, context: Context, variables: VariableValues) -> Any:
    """`committee(id:, code:)`: by id, by code, or by both when they name the same one."""
    arguments = _arguments(plan, variables)
    global_id, code = arguments.get("id"), arguments.get("code")
    session = context.session
    statement = _Statement(session.get_bind().dialect.name, context.viewer.scope)
    row = statement.alias("r")
    conditions = [statement.in_scope(row)]
    if global_id is not None:
        row_id = row_id_of(global_id, COMMITTEE_TYPE)
        if row_id is None:
            return None
        conditions.append(f"{row}.id = {statement.bind(row_id)}")
    if code is not None:
        conditions.append(f"{row}.code = {statement.bind(code)}")
    if global_id is None and code is None:
        return None
    answer = await _committee(statement, _object_plan(plan.completion), row, context, variables)
    sql = f"SELECT {answer} FROM committee AS {row} WHERE {' AND '.join(conditions)}"
    value = await session.scalar(_statement_of(sql), statement.values)
    return None if value is None else RawJson(value)


# --- what can be built -----------------------------------------------------------------


# Whether a field's selection can be built here, remembered per plan (plans are cached).
_BUILDABLE_KEPT = 1024
_buildable_cache: OrderedDict[int, tuple[FieldPlan, bool]] = OrderedDict()


def _buildable(plan: FieldPlan, relation: SqlRelation) -> bool:
    cached = _buildable_cache.get(id(plan))
    if cached is not None:
        return cached[1]
    try:
        if relation is SqlRelation.CHILDREN:
            _check_connection(plan)
        elif relation is SqlRelation.COMMITTEE:
            _check_committee(_object_plan(plan.completion))
        else:
            raise NotSql(plan.key)
        buildable = True
    except NotSql:
        buildable = False
    _buildable_cache[id(plan)] = (plan, buildable)
    if len(_buildable_cache) > _BUILDABLE_KEPT:
        _buildable_cache.popitem(last=False)
    return buildable


def _object_plan(completion: Completion | None) -> ObjectPlan:
    while completion is not None and completion.item is not None:
        completion = completion.item
    if completion is None or completion.object_plan is None:
        raise NotSql("not an object of one type")
    return completion.object_plan


# SQLite's json_object takes at most 127 arguments (63 keys); an object with more than 50
# (a margin) is read the usual way.
MAX_KEYS_PER_OBJECT = 50


def _fields(plan: ObjectPlan) -> tuple[FieldPlan, ...]:
    if len(plan.fields) > MAX_KEYS_PER_OBJECT:
        raise NotSql(f"{len(plan.fields)} keys in one {plan.type_name}")
    return plan.fields


def _check_connection(plan: FieldPlan) -> None:
    for part in _fields(_object_plan(plan.completion)):
        if part.read is Read.TYPENAME:
            continue
        relay = part.metadata.get(RELAY_PART)
        if relay in (RelayPart.NODES,):
            _check_committee(_object_plan(part.completion))
        elif relay is RelayPart.EDGES:
            for edge_part in _fields(_object_plan(part.completion)):
                edge_relay = edge_part.metadata.get(RELAY_PART)
                if edge_part.read is Read.TYPENAME or edge_relay is RelayPart.CURSOR:
                    continue
                if edge_relay is not RelayPart.NODE:
                    raise NotSql(edge_part.key)
                _check_committee(_object_plan(edge_part.completion))
        elif relay is RelayPart.PAGE_INFO:
            for info_part in _fields(_object_plan(part.completion)):
                if info_part.read is not Read.TYPENAME and info_part.metadata.get(
                    RELAY_PART
                ) not in (RelayPart.HAS_NEXT_PAGE, RelayPart.END_CURSOR):
                    raise NotSql(info_part.key)
        elif relay is not RelayPart.TOTAL_COUNT:
            raise NotSql(part.key)


def _check_committee(plan: ObjectPlan) -> None:
    for part in _fields(plan):
        if part.read is Read.TYPENAME or _is_column(part):
            continue
        relation = part.batch.sql if part.batch is not None else None
        if relation is SqlRelation.CHILDREN:
            _check_connection(part)
        elif relation is SqlRelation.CONGRESS:
            for congress_part in _fields(_object_plan(part.completion)):
                if congress_part.read is not Read.TYPENAME and not _is_column(congress_part):
                    raise NotSql(congress_part.key)
        else:
            raise NotSql(part.key)


def _is_column(part: FieldPlan) -> bool:
    return part.read is Read.ATTRIBUTE and isinstance(part.metadata.get(SQL_COLUMN), SqlColumn)


# --- building --------------------------------------------------------------------------


def _arguments(plan: FieldPlan, variables: VariableValues) -> dict[str, Any]:
    assert plan.batch is not None
    return get_argument_values(plan.batch.definition, plan.batch.node, variables)


async def _connection(
    statement: _Statement,
    plan: FieldPlan,
    parent: str,
    context: Context,
    variables: VariableValues,
) -> str:
    """JSON of the `children` connection of the committee row `parent`."""
    arguments = _arguments(plan, variables)
    size = page_size(arguments.get("first"), context.settings)
    after_id = decode_cursor(arguments.get("after"))
    include_closed = bool(arguments.get("includeClosed", False))
    child = statement.alias("c")

    def children(limit: str, *, columns: str = "*") -> str:
        conditions = [f"{child}.parent_id = {parent}.id"]
        if not include_closed:
            conditions.append(f"{child}.closed_at IS NULL")
        if after_id is not None:
            cursor_row = statement.alias("a")
            conditions.append(
                f"{child}.path > (SELECT {cursor_row}.path FROM committee AS {cursor_row} "
                f"WHERE {cursor_row}.id = {statement.bind(after_id)} "
                f"AND {statement.in_scope(cursor_row)})"
            )
        return (
            f"SELECT {columns} FROM committee AS {child} WHERE {' AND '.join(conditions)} "
            f"ORDER BY {child}.path LIMIT {limit}"
        )

    page = children(statement.bind(size), columns=f"{child}.*")
    pairs: list[tuple[str, str]] = []
    for part in _object_plan(plan.completion).fields:
        relay = part.metadata.get(RELAY_PART)
        if part.read is Read.TYPENAME:
            pairs.append((part.key, statement.string(part.type_name)))
        elif relay is RelayPart.TOTAL_COUNT:
            counted = statement.alias("t")
            open_only = "" if include_closed else f" AND {counted}.closed_at IS NULL"
            pairs.append(
                (
                    part.key,
                    statement.value(
                        f"(SELECT count(*) FROM committee AS {counted} "
                        f"WHERE {counted}.parent_id = {parent}.id{open_only})"
                    ),
                )
            )
        elif relay is RelayPart.NODES:
            row = statement.alias("n")
            node = await _committee(
                statement, _object_plan(part.completion), row, context, variables
            )
            pairs.append((part.key, statement.array(node, page, row, "path")))
        elif relay is RelayPart.EDGES:
            row = statement.alias("e")
            edge_pairs: list[tuple[str, str]] = []
            for edge_part in _object_plan(part.completion).fields:
                edge_relay = edge_part.metadata.get(RELAY_PART)
                if edge_part.read is Read.TYPENAME:
                    edge_pairs.append((edge_part.key, statement.string(edge_part.type_name)))
                elif edge_relay is RelayPart.CURSOR:
                    cursor = statement.base64(CURSOR_PREFIX, f"{row}.id", urlsafe=True)
                    edge_pairs.append((edge_part.key, cursor))
                else:
                    node_plan = _object_plan(edge_part.completion)
                    node = await _committee(statement, node_plan, row, context, variables)
                    edge_pairs.append((edge_part.key, node))
            pairs.append(
                (part.key, statement.array(statement.json_object(edge_pairs), page, row, "path"))
            )
        else:  # PAGE_INFO
            info_pairs: list[tuple[str, str]] = []
            for info_part in _object_plan(part.completion).fields:
                info_relay = info_part.metadata.get(RELAY_PART)
                if info_part.read is Read.TYPENAME:
                    info_pairs.append((info_part.key, statement.string(info_part.type_name)))
                elif info_relay is RelayPart.HAS_NEXT_PAGE:
                    one_more = children(statement.bind(size + 1), columns="1")
                    counted = statement.alias("h")
                    info_pairs.append(
                        (
                            info_part.key,
                            statement.boolean(
                                f"(SELECT count(*) FROM ({one_more}) AS {counted}) > {size}"
                            ),
                        )
                    )
                else:  # END_CURSOR
                    last = statement.alias("l")
                    cursor = statement.base64(CURSOR_PREFIX, f"{last}.id", urlsafe=True)
                    info_pairs.append(
                        (
                            info_part.key,
                            statement.value_of_subquery(
                                f"SELECT {cursor} FROM ({page}) AS {last} "
                                f"ORDER BY {last}.path DESC LIMIT 1"
                            ),
                        )
                    )
            pairs.append((part.key, statement.json_object(info_pairs)))
    return statement.json_object(pairs)


async def _committee(
    statement: _Statement,
    plan: ObjectPlan,
    row: str,
    context: Context,
    variables: VariableValues,
) -> str:
    """JSON of the committee whose columns are `row`."""
    pairs: list[tuple[str, str]] = []
    for part in plan.fields:
        if part.read is Read.TYPENAME:
            pairs.append((part.key, statement.string(part.type_name)))
        elif _is_column(part):
            pairs.append((part.key, _column(statement, part, row)))
        elif part.batch is not None and part.batch.sql is SqlRelation.CHILDREN:
            pairs.append((part.key, await _connection(statement, part, row, context, variables)))
        else:  # CONGRESS
            pairs.append((part.key, await _congress(statement, part, row, context, variables)))
    return statement.json_object(pairs)


async def _congress(
    statement: _Statement,
    plan: FieldPlan,
    committee_row: str,
    context: Context,
    variables: VariableValues,
) -> str:
    term = await term_named(context, _arguments(plan, variables).get("term"))
    if term is None:
        return statement.null()
    congress = statement.alias("g")
    pairs: list[tuple[str, str]] = []
    for part in _object_plan(plan.completion).fields:
        if part.read is Read.TYPENAME:
            pairs.append((part.key, statement.string(part.type_name)))
        else:
            pairs.append((part.key, _column(statement, part, congress)))
    return statement.json_of_subquery(
        f"SELECT {statement.json_object(pairs)} FROM congress AS {congress} "
        f"WHERE {congress}.committee_id = {committee_row}.id "
        f"AND {congress}.term_id = {statement.bind(term.id)}"
    )


def _column(statement: _Statement, part: FieldPlan, row: str) -> str:
    described = part.metadata[SQL_COLUMN]
    assert isinstance(described, SqlColumn)
    value = f"{row}.{described.column}"
    if described.global_id_of is not None:
        return statement.base64(
            GLOBAL_ID_PREFIX.format(described.global_id_of), value, urlsafe=False
        )
    assert part.completion is not None
    leaf = part.completion.leaf
    if isinstance(leaf, GraphQLEnumType):
        return statement.value(_enum_name(leaf, value))
    return statement.value(value)


def _enum_name(leaf: GraphQLLeafType, value: str) -> str:
    """The GraphQL name of a stored enum value (stored as the Python member's value)."""
    assert isinstance(leaf, GraphQLEnumType)
    cases = " ".join(
        f"WHEN '{_stored(member.value)}' THEN '{name}'" for name, member in leaf.values.items()
    )
    return f"(CASE {value} {cases} END)"


def _stored(member: object) -> str:
    if isinstance(member, Enum):
        return str(member.value)
    return str(member)
