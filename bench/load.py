"""Writes beside reads under load: many officials at once against one worker, p50/p90/p99.

    python -m bench.load [--backend sqlite|postgresql|both] [--clients 200] [--seconds 30]
                         [--read-share 0.7] [--progress-share 0.65] [--cells-per-commune 5]
                         [--warmup 3] [--seed 1]

Per backend: a fresh demo database (bench.soak.build_database), served by one worker
(`congress serve`, bench.progress_server) with CONGRESS_RATE_LIMITS=off and
CONGRESS_FAILED_AUTH_PER_MINUTE=0. Each client is one office at one committee, spread as
officials are: 4 % at the centre, 16 % at provinces, 30 % at communes, the rest at cells
(the demo's viewer, reporter and admin at TW, T01, X00004 and X00004-001 are the first
office of each level; every other office gets a viewer and a reporter of its own, added
to the database before the server starts). Clients send requests back to back for
`--seconds` (after `--warmup` seconds not counted), each a read with probability
`--read-share`, else a write:

- reads, by the office's viewer or reporter, about its own committee: the dashboard, the
  20 x 10 and 100-children tree pages (bench.reads), the congress with its milestones,
  the difficulty inbox, the recent progress list;
- writes, by its reporter (or admin): for `--progress-share` of them the next step of a
  congress it follows (`recordMilestone` IN_PROGRESS then DONE, step by step,
  `recordResults` once held, then corrections), for the rest `raiseDifficulty`, or
  `commentDifficulty`, `escalateDifficulty` or `resolveDifficulty` of one it raised; admins
  also `setDeadline` of a child's congress (30 % of their writes).
  Every write has a fresh idempotency key and the version of its object as last answered
  to any client (`expectedVersion`), so a write that raced another is answered
  `CongressVersionConflict`/`VersionConflict`: counted as a conflict, answered.

A shed request (503 with Retry-After) waits as told and is sent again; so is a 429.
Latencies: "answered" is the attempt that got an answer (sheds excluded: what the
worker made it wait); "end to end" counts from the first attempt, shed waits included.
The server's own `duration_ms` from its access log is printed beside them. The issue's
goal: write p99 <= 4 x read p99 in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import shlex
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bench.progress_server import (
    CLOCK_TICKS_PER_SECOND,
    Server,
    cpu_seconds,
    start_server,
    stop_server,
    wait_until_ready,
)
from bench.reads import DASHBOARD, HUNDRED, TWENTY_BY_TEN
from bench.soak import build_database
from config import Settings
from graph.global_ids import GlobalId
from graph.resolvers.committees import COMMITTEE_TYPE
from models.accounts import add_user
from models.congress import DEFAULT_MILESTONES, Congress
from models.database import create_engine, create_session_factory
from models.demo import demo_users
from models.tree import Committee
from models.users import Role
from permissions.tokens import LocalIssuer
from tests.databases import BACKENDS, throwaway_database

TOKEN_SECONDS = 3600
REQUEST_TIMEOUT_SECONDS = 120.0
# A shed request is sent again until this long after the end of the run, then given up.
RETRY_GRACE_SECONDS = 15.0
ONE_CONNECTION = httpx.Limits(max_connections=1, max_keepalive_connections=1)
SERVER_ENVIRONMENT: Final = {"CONGRESS_RATE_LIMITS": "off", "CONGRESS_FAILED_AUTH_PER_MINUTE": "0"}
GOAL_WRITE_TO_READ_P99: Final = 4.0
RETRIES_METRIC: Final = "congress_write_retries_total"
SHED_METRIC: Final = 'congress_refusals_total{kind="shed"}'

LEVELS: Final = ("centre", "province", "commune", "cell")
LEVEL_SHARES: Final = {"centre": 0.04, "province": 0.16, "commune": 0.30}
MILESTONES: Final = tuple(code for code, _name in DEFAULT_MILESTONES)
RESULTS_AFTER: Final = "congress_held"
OCCURRED_ON: Final = "2025-06-01"

CONGRESS_STATE = """fragment State on Congress {
  id status version milestones { milestone status } results { membersElected } }"""
CONGRESS = (
    """query Congress($code: String!) { committee(code: $code) { code
  congress { ...State deadline overdue daysLate } } } """
    + CONGRESS_STATE
)
INBOX = """query Inbox($id: ID!) { difficulties(handledAt: $id, status: OPEN, first: 20) {
  totalCount nodes { id title category status version raisedAt committee { code } } } }"""
RECENT = """query Recent($id: ID!) { recentProgress(under: $id, first: 20) {
  nodes { kind recordedAt recordedBy change congress { committee { code } } } } }"""
# (name, weight, document): what an office looks at.
READS: Final = (
    ("Dashboard", 35, DASHBOARD),
    ("TwentyByTen", 20, TWENTY_BY_TEN),
    ("Hundred", 15, HUNDRED),
    ("Congress", 15, CONGRESS),
    ("Inbox", 10, INBOX),
    ("Recent", 5, RECENT),
)
CONGRESS_ANSWER = """__typename
  ... on CongressPayload { recordedVersion replayed congress { ...State } }
  ... on CongressVersionConflict { currentVersion congress { ...State } }
  ... on MutationError { message }"""
RECORD_MILESTONE = f"""mutation RecordMilestone($input: RecordMilestoneInput!) {{
  recordMilestone(input: $input) {{ {CONGRESS_ANSWER} }} }} {CONGRESS_STATE}"""
RECORD_RESULTS = f"""mutation RecordResults($input: RecordResultsInput!) {{
  recordResults(input: $input) {{ {CONGRESS_ANSWER} }} }} {CONGRESS_STATE}"""
SET_DEADLINE = f"""mutation SetDeadline($input: SetDeadlineInput!) {{ setDeadline(input: $input) {{
  __typename
  ... on SetDeadlinePayload {{ updated congress {{ ...State }} }}
  ... on CongressVersionConflict {{ currentVersion congress {{ ...State }} }}
  ... on MutationError {{ message }} }} }} {CONGRESS_STATE}"""
DIFFICULTY_ANSWER = """__typename
  ... on DifficultyPayload { recordedVersion replayed difficulty { id version status } }
  ... on VersionConflict { currentVersion }
  ... on MutationError { message }"""
RAISE = f"""mutation RaiseDifficulty($input: RaiseDifficultyInput!) {{
  raiseDifficulty(input: $input) {{ {DIFFICULTY_ANSWER} }} }}"""
COMMENT = f"""mutation CommentDifficulty($input: CommentDifficultyInput!) {{
  commentDifficulty(input: $input) {{ {DIFFICULTY_ANSWER} }} }}"""
ESCALATE = f"""mutation EscalateDifficulty($input: EscalateDifficultyInput!) {{
  escalateDifficulty(input: $input) {{ {DIFFICULTY_ANSWER} }} }}"""
RESOLVE = f"""mutation ResolveDifficulty($input: ResolveDifficultyInput!) {{
  resolveDifficulty(input: $input) {{ {DIFFICULTY_ANSWER} }} }}"""
WRITE_OPERATIONS: Final = (
    "RecordMilestone",
    "RecordResults",
    "SetDeadline",
    "RaiseDifficulty",
    "CommentDifficulty",
    "EscalateDifficulty",
    "ResolveDifficulty",
)
READ_OPERATIONS: Final = tuple(name for name, _weight, _document in READS)
TOO_BUSY_PREFIX = "Too many people"


class Outcome(StrEnum):
    OK = "ok"
    CONFLICT = "conflict"  # a typed version conflict
    TOO_BUSY = "too busy"  # the typed Conflict a write gets once its retries ran out
    REFUSED = "refused"  # another typed error (ValidationError, Forbidden, NotFound, ...)
    ERROR = "error"  # GraphQL errors, an HTTP error status, no answer


# --- who sends what -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Place:
    id: int
    code: str

    @property
    def global_id(self) -> str:
        return str(GlobalId(COMMITTEE_TYPE, self.id))


@dataclass(slots=True)
class TrackedDifficulty:
    id: str
    version: int
    handled_here: bool = True
    open: bool = True


@dataclass(slots=True)
class Office:
    """One client: the officials of one committee, the congresses they follow (their own
    first, then those below, each office starting on different ones) and what they raised."""

    level: str
    place: Place
    readers: list[str]  # subjects
    writers: list[str]
    admin: str | None
    targets: list[Place]
    children: list[Place]
    difficulties: list[TrackedDifficulty] = field(default_factory=list)
    raised: int = 0
    # Its own connection, as each official's browser has: one client shared by all would
    # make every request scan a pool of 200 connections (httpx), and the bench the bottleneck.
    http: httpx.AsyncClient | None = None


@dataclass(slots=True)
class CongressState:
    """A congress as the last answer about it said: shared by all clients, as if each read
    it just before writing."""

    version: int
    statuses: dict[str, str] = field(default_factory=dict)
    has_results: bool = False
    corrections: int = 0

    def next_step(self) -> tuple[str, str] | None:
        """(milestone, status) to record next, ("results", "") for results, None when done."""
        for milestone in MILESTONES:
            status = self.statuses.get(milestone, "NOT_STARTED")
            if status == "DONE":
                if milestone == RESULTS_AFTER and not self.has_results:
                    return ("results", "")
                continue
            return (milestone, "IN_PROGRESS" if status == "NOT_STARTED" else "DONE")
        return None

    def update(self, congress: Mapping[str, Any] | None) -> None:
        if not congress:
            return
        self.version = max(self.version, int(congress["version"]))
        self.statuses = {m["milestone"]: m["status"] for m in congress["milestones"]}
        self.has_results = congress["results"] is not None


def level_sizes(clients: int) -> dict[str, int]:
    sizes = {level: max(1, round(clients * share)) for level, share in LEVEL_SHARES.items()}
    sizes["cell"] = max(1, clients - sum(sizes.values()))
    return sizes


def spread(items: Sequence[Place], count: int, first: Place) -> list[Place]:
    """`first`, then `count - 1` others taken evenly across `items` (several provinces,
    communes of many provinces): offices of one level at distinct committees if possible."""
    others = [item for item in items if item.id != first.id]
    if not others:
        return [first] * count
    step = max(1, len(others) // max(1, count - 1))
    chosen = [first, *others[::step]]
    while len(chosen) < count:
        chosen.extend(others)
    return chosen[:count]


async def enlist_offices(
    database_url: str, clients: int
) -> tuple[list[Office], dict[int, CongressState]]:
    """Add each office's officials (the demo's at the first office of each level) and read
    what they follow: committees below them, and every congress's version."""
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session, session.begin():
            return await _enlist(session, clients)
    finally:
        await engine.dispose()


async def _enlist(
    session: AsyncSession, clients: int
) -> tuple[list[Office], dict[int, CongressState]]:
    rows = (
        await session.execute(
            select(Committee.id, Committee.code, Committee.depth, Committee.parent_id).order_by(
                Committee.path
            )
        )
    ).all()
    by_depth: dict[int, list[Place]] = {}
    children: dict[int, list[Place]] = {}
    for committee_id, code, depth, parent_id in rows:
        place = Place(committee_id, code)
        by_depth.setdefault(depth, []).append(place)
        if parent_id is not None:
            children.setdefault(parent_id, []).append(place)
    demo = demo_users()
    # TW, T01, X00004, X00004-001: the demo's places, one per depth from the root.
    demo_codes = list(dict.fromkeys(user.committee_code for user in demo))
    sizes = level_sizes(clients)
    offices: list[Office] = []
    for depth, level in enumerate(LEVELS, start=1):
        first = next(p for p in by_depth[depth] if p.code == demo_codes[depth - 1])
        places = spread(by_depth[depth], sizes[level], first)
        for number, place in enumerate(places):
            if number == 0:
                at_place = {u.role: u.subject for u in demo if u.committee_code == place.code}
                readers = [at_place[Role.VIEWER], at_place[Role.REPORTER], at_place[Role.ADMIN]]
                writers = [at_place[Role.REPORTER], at_place[Role.ADMIN]]
                admin: str | None = at_place[Role.ADMIN]
            else:
                viewer, reporter = (f"0019{depth}{number:03d}{n}" for n in (1, 2))
                for subject, role in ((viewer, Role.VIEWER), (reporter, Role.REPORTER)):
                    await add_user(session, subject, f"Cán bộ {role.value} {place.code}", [(place.id, role)])  # fmt: skip
                readers, writers, admin = [viewer, reporter], [reporter], None
            below = children.get(place.id, [])
            rotated = below[number % len(below) :] + below[: number % len(below)] if below else []
            # Several offices at the centre: only the first follows the centre's own congress.
            own = [place] if level != "centre" or number == 0 else []
            offices.append(Office(level, place, readers, writers, admin, own + rotated, below))
    versions = await session.execute(select(Congress.committee_id, Congress.version))
    congresses = {committee_id: CongressState(version) for committee_id, version in versions}
    return offices, congresses


# --- what was measured ----------------------------------------------------------------------


@dataclass(slots=True)
class OperationTally:
    answered: list[float] = field(default_factory=list)  # seconds, the answered attempt
    end_to_end: list[float] = field(default_factory=list)  # seconds, shed waits included
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    shed: int = 0
    rate_limited: int = 0
    gave_up: int = 0  # still shed when the run (and its grace) was over
    first_error: str | None = None
    first_refusal: str | None = None


@dataclass(slots=True)
class Tally:
    operations: dict[str, OperationTally] = field(default_factory=dict)

    def of(self, operation: str) -> OperationTally:
        return self.operations.setdefault(operation, OperationTally())


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest rank, in milliseconds; NaN when there is nothing."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1] * 1000


# --- the requests ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    outcome: Outcome
    body: Mapping[str, Any] | None


@dataclass(slots=True)
class Run:
    url: str
    tokens: dict[str, str]
    congresses: dict[int, CongressState]
    tally: Tally
    deadline: float
    progress_share: float

    async def send(
        self, office: Office, operation: str, subject: str, document: str, variables: dict[str, Any]
    ) -> Answer:
        """Post, waiting out sheds and 429s as told; record the answered attempt."""
        tally = self.tally.of(operation)
        started = time.perf_counter()
        body = {"query": document, "variables": variables, "operationName": operation}
        headers = {"Authorization": f"Bearer {self.tokens[subject]}"}
        assert office.http is not None
        while True:
            sent = time.perf_counter()
            try:
                response = await office.http.post(self.url, json=body, headers=headers)
            except httpx.HTTPError as error:
                return self._error(tally, f"{type(error).__name__}: {error}")
            answered = time.perf_counter()
            if response.status_code in (429, 503) and "retry-after" in response.headers:
                if response.status_code == 429:
                    tally.rate_limited += 1
                elif _code(response) == "UNAVAILABLE":
                    tally.shed += 1
                else:  # OUTCOME_UNKNOWN and the like: an answer, and an error
                    return self._error(tally, f"HTTP 503 {_code(response)}")
                wait = float(response.headers["retry-after"])
                if time.perf_counter() + wait > self.deadline + RETRY_GRACE_SECONDS:
                    tally.gave_up += 1
                    return Answer(Outcome.ERROR, None)
                await asyncio.sleep(wait)
                continue
            tally.answered.append(answered - sent)
            tally.end_to_end.append(answered - started)
            if response.status_code != 200:
                return self._error(tally, f"HTTP {response.status_code}: {response.text[:200]}")
            payload = response.json()
            if payload.get("errors") or not isinstance(payload.get("data"), dict):
                return self._error(tally, str(payload.get("errors"))[:300])
            data: dict[str, Any] = payload["data"]
            outcome = _typed_outcome(data)
            tally.outcomes[outcome] += 1
            if outcome is Outcome.REFUSED:
                tally.first_refusal = (
                    tally.first_refusal or json.dumps(data, ensure_ascii=False)[:300]
                )
            return Answer(outcome, data)

    @staticmethod
    def _error(tally: OperationTally, text: str) -> Answer:
        tally.outcomes[Outcome.ERROR] += 1
        tally.first_error = tally.first_error or text
        return Answer(Outcome.ERROR, None)


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json()["errors"][0]["extensions"]["code"])
    except (ValueError, KeyError, IndexError, TypeError):
        return "-"


def _typed_outcome(data: Mapping[str, Any]) -> Outcome:
    """A mutation's answer by its __typename; any read answered with data is ok."""
    for value in data.values():
        if not isinstance(value, dict) or "__typename" not in value:
            continue
        typename = value["__typename"]
        if typename.endswith("Payload"):
            return Outcome.OK
        if typename.endswith("VersionConflict"):
            return Outcome.CONFLICT
        if typename == "Conflict" and str(value.get("message", "")).startswith(TOO_BUSY_PREFIX):
            return Outcome.TOO_BUSY
        return Outcome.REFUSED
    return Outcome.OK


def pick(rng: random.Random, weighted: Sequence[tuple[str, int, str]]) -> tuple[str, str]:
    name, _weight, document = rng.choices(weighted, weights=[w for _n, w, _d in weighted])[0]
    return name, document


async def read(run: Run, office: Office, rng: random.Random) -> None:
    name, document = pick(rng, READS)
    variables = {"code": office.place.code} if "$code" in document else {"id": office.place.global_id}  # fmt: skip
    await run.send(office, name, rng.choice(office.readers), document, variables)


async def write(run: Run, office: Office, rng: random.Random) -> None:
    writer = rng.choice(office.writers)
    if writer == office.admin and office.children and rng.random() < 0.3:
        await set_deadline(run, office, writer, rng.choice(office.children), rng)
        return
    draw = rng.random()
    open_here = [d for d in office.difficulties if d.open]
    # Past the progress share, the rest of the writes: 2/7 raise, 3/7 comment, 2/7 move.
    rest = (
        (draw - run.progress_share) / (1 - run.progress_share) if draw >= run.progress_share else 0
    )
    if draw < run.progress_share:
        await progress(run, office, writer)
    elif rest < 2 / 7 or not open_here:
        await raise_difficulty(run, office, writer)
    elif rest < 5 / 7:
        await difficulty_step(run, office, "CommentDifficulty", writer, rng.choice(open_here), rng)
    else:
        handled = [d for d in open_here if d.handled_here]
        if not handled:
            await difficulty_step(
                run, office, "CommentDifficulty", writer, rng.choice(open_here), rng
            )
            return
        # The centre is the top: it resolves; lower levels escalate or resolve.
        step = "ResolveDifficulty" if office.level == "centre" or rng.random() < 0.5 else "EscalateDifficulty"  # fmt: skip
        await difficulty_step(run, office, step, writer, rng.choice(handled), rng)


def _key() -> str:
    return str(uuid.uuid4())


async def progress(run: Run, office: Office, writer: str) -> None:
    """The next step of the first congress the office follows that is not finished; once
    all are, a correction of its own congress's results."""
    target = next(
        (t for t in office.targets if run.congresses[t.id].next_step() is not None),
        office.targets[0] if office.targets else office.place,
    )
    state = run.congresses[target.id]
    step = state.next_step()
    if step is None or step[0] == "results":
        if step is None:
            state.corrections += 1
        answer = await run.send(
            office, "RecordResults", writer, RECORD_RESULTS, {"input": {
                "committeeId": target.global_id, "delegatesExpected": 120, "delegatesPresent": 115,
                "membersElected": 15 + state.corrections % 5, "women": 4, "under40": 2,
                "ethnicMinority": 1, "secretaryDirectlyElected": True,
                "delegatesToHigherCongress": 6, "expectedVersion": state.version,
                "idempotencyKey": _key()}},
        )  # fmt: skip
        _follow_congress(state, answer, "recordResults")
        return
    milestone, status = step
    answer = await run.send(
        office, "RecordMilestone", writer, RECORD_MILESTONE, {"input": {
            "committeeId": target.global_id, "milestone": milestone, "status": status,
            "occurredOn": OCCURRED_ON, "note": f"bench {office.place.code}",
            "expectedVersion": state.version, "idempotencyKey": _key()}},
    )  # fmt: skip
    _follow_congress(state, answer, "recordMilestone")


async def set_deadline(
    run: Run, office: Office, admin: str, child: Place, rng: random.Random
) -> None:
    state = run.congresses[child.id]
    deadline = date(2025, 9, 1) + timedelta(days=rng.randrange(0, 400))
    answer = await run.send(
        office, "SetDeadline", admin, SET_DEADLINE, {"input": {
            "committeeId": child.global_id, "deadline": deadline.isoformat(),
            "expectedVersion": state.version}},
    )  # fmt: skip
    _follow_congress(state, answer, "setDeadline")


def _follow_congress(state: CongressState, answer: Answer, field_name: str) -> None:
    if answer.body is None:
        return
    result = answer.body[field_name]
    state.update(result.get("congress"))
    if "currentVersion" in result:
        state.version = max(state.version, int(result["currentVersion"]))


async def raise_difficulty(run: Run, office: Office, writer: str) -> None:
    office.raised += 1
    answer = await run.send(
        office, "RaiseDifficulty", writer, RAISE, {"input": {
            "committeeId": office.place.global_id,
            "title": f"Thiếu phòng họp cho đại hội ({office.place.code} #{office.raised})",
            "description": "Bench: a difficulty raised under load.", "category": "FACILITIES",
            "idempotencyKey": _key()}},
    )  # fmt: skip
    if answer.outcome is Outcome.OK and answer.body is not None:
        raised = answer.body["raiseDifficulty"]["difficulty"]
        office.difficulties.append(TrackedDifficulty(raised["id"], int(raised["version"])))


async def difficulty_step(
    run: Run,
    office: Office,
    operation: str,
    writer: str,
    difficulty: TrackedDifficulty,
    rng: random.Random,
) -> None:
    field_name = operation[0].lower() + operation[1:]
    inputs: dict[str, Any] = {
        "difficultyId": difficulty.id,
        "expectedVersion": difficulty.version,
        "idempotencyKey": _key(),
    }
    document = {"CommentDifficulty": COMMENT, "EscalateDifficulty": ESCALATE}.get(operation, RESOLVE)  # fmt: skip
    if operation == "CommentDifficulty":
        inputs["body"] = f"Cập nhật {rng.randrange(1000)}: đang xử lý."
    elif operation == "ResolveDifficulty":
        inputs["resolution"] = "Đã bố trí hội trường."
    answer = await run.send(office, operation, writer, document, {"input": inputs})
    if answer.body is None:
        return
    result = answer.body[field_name]
    if "currentVersion" in result:
        difficulty.version = max(difficulty.version, int(result["currentVersion"]))
    if answer.outcome is Outcome.OK:
        difficulty.version = int(result["difficulty"]["version"])
        difficulty.open = result["difficulty"]["status"] == "OPEN"
        if operation == "EscalateDifficulty":
            difficulty.handled_here = False
    elif answer.outcome is Outcome.REFUSED:
        difficulty.open = False  # resolved or out of reach: leave it


async def drive(
    run: Run, offices: Sequence[Office], read_share: float, seed: int, stop_at: float
) -> None:
    async def one_client(index: int) -> None:
        office = offices[index]
        rng = random.Random(seed * 100_003 + index)
        while time.perf_counter() < stop_at:
            if rng.random() < read_share:
                await read(run, office, rng)
            else:
                await write(run, office, rng)

    await asyncio.gather(*(one_client(index) for index in range(len(offices))))


# --- the server's side ----------------------------------------------------------------------


async def metric_values(client: httpx.AsyncClient, server: Server) -> dict[str, float]:
    """congress_write_retries_total and the refusals by kind, from /metrics."""
    text = (await client.get(f"{server.base_url}/metrics")).text
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith((RETRIES_METRIC, SHED_METRIC)):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def machine_busy_seconds() -> float:
    """CPU time the whole machine has spent busy since boot (/proc/stat): what is left after
    the server and the bench is what other processes took from the run."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS_PER_SECOND


def postgres_seconds() -> float:
    """User + system CPU time of the PostgreSQL processes running now (its server's
    backends; one that ended during the run is missed)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, _, rest = stat.read_text().partition(" (")[2].partition(") ")
        except OSError:
            continue  # a process that ended meanwhile
        if name.startswith("postgres"):
            fields = rest.split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / CLOCK_TICKS_PER_SECOND


def access_lines(log: Path, start: int, end: int) -> list[dict[str, Any]]:
    """The server's JSON access lines between two offsets of its log."""
    with log.open("rb") as handle:
        handle.seek(start)
        chunk = handle.read(end - start)
    lines = []
    for raw in chunk.splitlines():
        if raw.startswith(b"{"):
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if isinstance(line, dict) and line.get("path") == "/graphql":
                lines.append(line)
    return lines


# --- one backend ----------------------------------------------------------------------------


@dataclass(slots=True)
class Measured:
    backend: str
    offices: list[Office]
    tally: Tally
    seconds: float
    server_cpu: float
    client_cpu: float
    machine_cpu: float  # every process's, PostgreSQL's and anything else running included
    postgres_cpu: float
    metrics: dict[str, float]
    access: list[dict[str, Any]]
    load_average: float


async def measure(backend: str, arguments: argparse.Namespace) -> Measured:
    with tempfile.TemporaryDirectory(prefix="congress-load-") as directory:
        data_dir = Path(directory)
        async with throwaway_database(backend, data_dir) as database_url:
            await build_database(database_url, arguments.cells_per_commune)
            offices, congresses = await enlist_offices(database_url, arguments.clients)
            os.environ.update(SERVER_ENVIRONMENT)
            server = start_server(database_url, data_dir)
            try:
                await wait_until_ready(server)
                return await _load(backend, server, data_dir, offices, congresses, arguments)
            finally:
                stop_server(server)


async def _load(
    backend: str,
    server: Server,
    data_dir: Path,
    offices: list[Office],
    congresses: dict[int, CongressState],
    arguments: argparse.Namespace,
) -> Measured:
    issuer = LocalIssuer.load_or_create(Settings(data_dir=data_dir).signing_key_path)
    subjects = {s for office in offices for s in (*office.readers, *office.writers)}
    tokens = {subject: issuer.issue(subject, TOKEN_SECONDS) for subject in subjects}
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(httpx.AsyncClient())
        for office in offices:
            office.http = await stack.enter_async_context(
                httpx.AsyncClient(limits=ONE_CONNECTION, timeout=REQUEST_TIMEOUT_SECONDS)
            )
        # Warm-up, not counted: plans cached, connections open, the pool filled.
        warm_until = time.perf_counter() + arguments.warmup
        warm = Run(
            server.graphql_url, tokens, congresses, Tally(), warm_until, arguments.progress_share
        )
        await drive(warm, offices, arguments.read_share, arguments.seed, warm_until)
        before = await metric_values(client, server)
        log_start = server.log_path.stat().st_size
        cpu_before, client_before = cpu_seconds(server.process.pid), time.process_time()
        machine_before, postgres_before = machine_busy_seconds(), postgres_seconds()
        started = time.perf_counter()
        stop_at = started + arguments.seconds
        run = Run(
            server.graphql_url, tokens, congresses, Tally(), stop_at, arguments.progress_share
        )
        await drive(run, offices, arguments.read_share, arguments.seed + 1, stop_at)
        elapsed = time.perf_counter() - started
        server_cpu = cpu_seconds(server.process.pid) - cpu_before
        client_cpu = time.process_time() - client_before
        machine_cpu = machine_busy_seconds() - machine_before
        postgres_cpu = postgres_seconds() - postgres_before
        load_average = os.getloadavg()[0]
        after = await metric_values(client, server)
    await asyncio.sleep(0.5)  # the last access lines reach the log
    access = access_lines(server.log_path, log_start, server.log_path.stat().st_size)
    metrics = {name: value - before.get(name, 0.0) for name, value in after.items()}
    return Measured(
        backend, offices, run.tally, elapsed, server_cpu, client_cpu, machine_cpu, postgres_cpu,
        metrics, access, load_average,
    )  # fmt: skip


# --- printing -------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _merged(tallies: Sequence[OperationTally]) -> OperationTally:
    merged = OperationTally()
    for tally in tallies:
        merged.answered += tally.answered
        merged.end_to_end += tally.end_to_end
        merged.outcomes.update(tally.outcomes)
        merged.shed += tally.shed
        merged.rate_limited += tally.rate_limited
        merged.gave_up += tally.gave_up
        merged.first_error = merged.first_error or tally.first_error
        merged.first_refusal = merged.first_refusal or tally.first_refusal
    return merged


def report(measured: Measured, arguments: argparse.Namespace) -> None:
    tally = measured.tally.operations
    reads = _merged([tally[n] for n in READ_OPERATIONS if n in tally])
    writes = _merged([tally[n] for n in WRITE_OPERATIONS if n in tally])
    levels = Counter(office.level for office in measured.offices)
    print(f"\n## {measured.backend}: {len(measured.offices)} clients, one worker")
    print(
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; "
        f"`{shlex.join(['python', '-m', 'bench.load', *sys.argv[1:]])}`; "
        f"{measured.seconds:.1f} s measured after {arguments.warmup:g} s of warm-up; "
        f"read share {arguments.read_share:g}, progress share of writes "
        f"{arguments.progress_share:g}; {arguments.cells_per_commune} cells per commune; "
        "offices " + ", ".join(f"{levels[level]} {level}" for level in LEVELS) + "; "
        f"{os.cpu_count()} CPUs, load average {measured.load_average:.2f}"
    )
    answered = len(reads.answered) + len(writes.answered)
    others = measured.machine_cpu - measured.server_cpu - measured.client_cpu
    print(
        f"{answered:,} answered ({answered / measured.seconds:,.0f}/s); CPU: server "
        f"{measured.server_cpu:.1f} s ({measured.server_cpu / measured.seconds:.0%} of a core), "
        f"bench client {measured.client_cpu:.1f} s, PostgreSQL {measured.postgres_cpu:.1f} s, "
        f"unattributed {others - measured.postgres_cpu:.1f} s (kernel, processes that ended, "
        "anything else running); the worker counted "
        f"{measured.metrics.get(RETRIES_METRIC, 0):,.0f} write retries and "
        f"{measured.metrics.get(SHED_METRIC, 0):,.0f} sheds"
    )
    print(
        "\nLatency in ms. answered: the attempt that got an answer (sheds excluded); "
        "e2e: from the first attempt, shed waits (Retry-After) included."
    )
    print(
        "| operation | answered | ok | conflicts | too busy | refused | errors | sheds | 429 | "
        "p50 | p90 | p99 | max | e2e p50 | e2e p99 |"
    )
    print("|---|" + "---:|" * 14)

    def row(name: str, t: OperationTally) -> None:
        o = t.outcomes
        print(
            f"| {name} | {len(t.answered):,} | {o[Outcome.OK]:,} | {o[Outcome.CONFLICT]:,} | "
            f"{o[Outcome.TOO_BUSY]:,} | {o[Outcome.REFUSED]:,} | {o[Outcome.ERROR] + t.gave_up:,} | "
            f"{t.shed:,} | {t.rate_limited:,} | {_ms(percentile(t.answered, 0.5))} | "
            f"{_ms(percentile(t.answered, 0.9))} | {_ms(percentile(t.answered, 0.99))} | "
            f"{_ms(percentile(t.answered, 1.0))} | {_ms(percentile(t.end_to_end, 0.5))} | "
            f"{_ms(percentile(t.end_to_end, 0.99))} |"
        )

    for name in (*READ_OPERATIONS, *WRITE_OPERATIONS):
        if name in tally:
            row(name, tally[name])
    row("**all reads**", reads)
    row("**all writes**", writes)
    server = _server_latencies(measured.access)
    print("\nThe server's own duration_ms (access log), answered requests only (503 sheds out):")
    print("| operation | requests | p50 | p90 | p99 | max |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, durations in server.items():
        print(
            f"| {name} | {len(durations):,} | {_ms(percentile(durations, 0.5))} | "
            f"{_ms(percentile(durations, 0.9))} | {_ms(percentile(durations, 0.99))} | "
            f"{_ms(percentile(durations, 1.0))} |"
        )
    ratios = (
        ("answered (client)", reads.answered, writes.answered),
        ("end to end, shed waits included (client)", reads.end_to_end, writes.end_to_end),
        ("server duration_ms", server.get("**all reads**", []), server.get("**all writes**", [])),
    )
    print()
    for label, read_latencies, write_latencies in ratios:
        read_p99, write_p99 = percentile(read_latencies, 0.99), percentile(write_latencies, 0.99)
        ratio = write_p99 / read_p99 if read_p99 else math.nan
        verdict = "met" if ratio <= GOAL_WRITE_TO_READ_P99 else "NOT met"
        print(
            f"- write p99 / read p99, {label}: {_ms(write_p99)} / {_ms(read_p99)} ms = "
            f"**{ratio:.2f}** (goal <= {GOAL_WRITE_TO_READ_P99:g}: {verdict})"
        )
    for name, t in tally.items():
        if t.first_error:
            print(f"- first error of {name}: {t.first_error}")
        if t.first_refusal:
            print(f"- first refusal of {name}: {t.first_refusal}")


def _server_latencies(access: Sequence[Mapping[str, Any]]) -> dict[str, list[float]]:
    by_operation: dict[str, list[float]] = {}
    for line in access:
        if line.get("outcome") == "refused_shed":
            continue  # shed at the door
        by_operation.setdefault(str(line.get("operation")), []).append(line["duration_ms"] / 1000)
    ordered = {name: by_operation[name] for name in (*READ_OPERATIONS, *WRITE_OPERATIONS) if name in by_operation}  # fmt: skip
    ordered["**all reads**"] = [d for n in READ_OPERATIONS for d in by_operation.get(n, [])]
    ordered["**all writes**"] = [d for n in WRITE_OPERATIONS for d in by_operation.get(n, [])]
    return ordered


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--read-share", type=float, default=0.7)
    parser.add_argument(
        "--progress-share",
        type=float,
        default=0.65,
        help="of the writes, those that record congress progress (the rest: difficulties)",
    )
    parser.add_argument("--cells-per-commune", type=int, default=5)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load not counted")
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args()
    if arguments.cells_per_commune < 1:
        parser.error("--cells-per-commune must be at least 1: the cells' offices need cells")
    backends = BACKENDS if arguments.backend == "both" else (arguments.backend,)
    for backend in backends:
        report(asyncio.run(measure(backend, arguments)), arguments)


if __name__ == "__main__":
    main()
