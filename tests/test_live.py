"""Live updates over a real websocket (graphql-transport-ws), on both databases: who is
sent what, resuming from a cursor, and how a connection's sign-in is checked and ends."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from contextlib import AsyncExitStack

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from graph.live.subscriptions import EVENTS_FIELD as EVENTS
from graph.observability.metrics import live_messages, live_renders
from models import Role
from models.change_feed import append_change
from models.demo import CENTRAL_CODE
from tests.admin_api import (
    DEACTIVATE_USER,
    MOVE_COMMITTEE,
    REVOKE_ROLE,
    committee_gid,
    mutate,
    user_gid,
)
from tests.api import counted_statements
from tests.conftest import (
    SIBLING_PROVINCE_CODE,
    SIBLING_VIEWER,
    DemoWorld,
    demo_cell_code,
    demo_commune_code,
    demo_user,
)
from tests.live_api import (
    ARRIVES_WITHIN_SECONDS,
    PROGRESS,
    PROGRESS_EVENTS,
    closed_with,
    event_stream,
    hub_of,
    listening,
    live_server,
    refused_with,
    signed_in,
)
from tests.progress_api import MILESTONES, RECORD_MILESTONE, SET_DEADLINE, congress_of, record
from tests.test_difficulties import escalate, raised_id, reporter

PROVINCE = "T01"
CELL_DEPTH = 4
PROVINCE_VIEWER = demo_user(Role.VIEWER, PROVINCE)
HUB_FEED_READ = "SELECT change_feed.position"


async def test_a_province_sees_its_cells_milestone_and_a_sibling_province_sees_nothing(
    fresh_world: DemoWorld,
) -> None:
    cell = demo_cell_code()
    async with (
        live_server(fresh_world) as url,
        signed_in(url, fresh_world.client.token_for(PROVINCE_VIEWER)) as province,
        signed_in(url, fresh_world.client.token_for(SIBLING_VIEWER)) as sibling,
    ):
        await province.subscribe("1", PROGRESS_EVENTS)
        await sibling.subscribe("1", PROGRESS_EVENTS)
        await listening(url, 2)  # both listening before the write
        written = await record(fresh_world, reporter(cell), cell, "plan_issued")
        event = (await province.next_data("1"))["progressEvents"]
        assert event["kind"] == "MILESTONE"
        assert event["committee"]["code"] == cell
        assert event["congress"] == {
            "status": written["congress"]["status"],
            "version": written["recordedVersion"],
            "milestone": "plan_issued",
        }
        assert event["difficulty"] is None
        await sibling.nothing_arrives()


async def test_a_cursor_resumes_with_no_gap_and_no_repeat(fresh_world: DemoWorld) -> None:
    cell = demo_cell_code()
    token = fresh_world.client.token_for(PROVINCE_VIEWER)
    async with live_server(fresh_world) as url:
        async with signed_in(url, token) as first:
            await first.subscribe("1", PROGRESS_EVENTS)
            await listening(url, 1)
            await record(fresh_world, reporter(cell), cell, "plan_issued")
            cursor = (await first.next_data("1"))["progressEvents"]["cursor"]
        # Disconnected: two more changes happen meanwhile.
        await record(fresh_world, reporter(cell), cell, "documents_drafted")
        await record(fresh_world, reporter(cell), cell, "documents_commented")
        async with signed_in(url, token) as again:
            await again.subscribe("1", PROGRESS_EVENTS, after=cursor)
            replayed = [(await again.next_data("1"))["progressEvents"] for _ in range(2)]
            assert [event["congress"]["milestone"] for event in replayed] == [
                "documents_drafted",
                "documents_commented",
            ]
            # Then live, after the replay, with nothing in between repeated.
            await record(fresh_world, reporter(cell), cell, "personnel_plan_approved")
            live = (await again.next_data("1"))["progressEvents"]
            assert live["congress"]["milestone"] == "personnel_plan_approved"
            await again.nothing_arrives()


async def test_a_replay_longer_than_the_queue_limit_reaches_a_reader(
    fresh_world: DemoWorld,
) -> None:
    """A replay is sent at once, deeper than CONGRESS_LIVE_QUEUE_LIMIT: a client that reads
    gets all of it (only one that stops reading is closed), or it could never resume."""
    cell = demo_cell_code()
    later = list(MILESTONES[1:])
    token = fresh_world.client.token_for(PROVINCE_VIEWER)
    async with live_server(fresh_world, live_queue_limit=3) as url:
        async with signed_in(url, token) as first:
            await first.subscribe("1", PROGRESS_EVENTS)
            await listening(url, 1)
            await record(fresh_world, reporter(cell), cell, MILESTONES[0])
            cursor = (await first.next_data("1"))["progressEvents"]["cursor"]
        for milestone in later:
            await record(fresh_world, reporter(cell), cell, milestone)
        async with signed_in(url, token) as again:
            await again.subscribe("1", PROGRESS_EVENTS, after=cursor, kinds=["MILESTONE"])
            replayed = [(await again.next_data("1"))["progressEvents"] for _ in later]
            assert [event["congress"]["milestone"] for event in replayed] == later
            await again.nothing_arrives()


async def test_cursors_are_sealed(fresh_world: DemoWorld) -> None:
    """A made-up or edited cursor is a client error, never a place in the feed."""
    cell = demo_cell_code()
    token = fresh_world.client.token_for(PROVINCE_VIEWER)
    async with live_server(fresh_world) as url, signed_in(url, token) as client:
        await client.subscribe("1", PROGRESS_EVENTS)
        await listening(url, 1)
        await record(fresh_world, reporter(cell), cell, "plan_issued")
        cursor = (await client.next_data("1"))["progressEvents"]["cursor"]
        edited = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")
        for number, bad in enumerate((edited, "1", "cursor:5", "")):
            await client.subscribe(f"bad-{number}", PROGRESS_EVENTS, after=bad)
            errors = await client.errors_of(f"bad-{number}")
            assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", errors


async def test_under_outside_the_scope_is_not_found_like_a_missing_committee(
    fresh_world: DemoWorld,
) -> None:
    token = fresh_world.client.token_for(PROVINCE_VIEWER)
    sibling = await committee_gid(fresh_world, SIBLING_PROVINCE_CODE)
    missing = "Q29tbWl0dGVlOjk5OTk5OTk5"  # Committee:99999999
    async with live_server(fresh_world) as url, signed_in(url, token) as client:
        answers = []
        for operation_id, under in (("sibling", sibling), ("missing", missing)):
            await client.subscribe(operation_id, PROGRESS_EVENTS, under=under)
            errors = await client.errors_of(operation_id)
            answers.append([(error["message"], error["extensions"]["code"]) for error in errors])
        assert answers[0] == answers[1]
        assert answers[0][0][1] == "NOT_FOUND"


async def test_an_escalated_difficulty_names_the_level_only_to_who_sees_it(
    fresh_world: DemoWorld,
) -> None:
    """The commune's viewer sees its cell's difficulty escalated to the commune; once it
    climbs to the province, the commune viewer is told it left, without the province."""
    cell, commune = demo_cell_code(), demo_commune_code()
    async with (
        live_server(fresh_world) as url,
        signed_in(url, fresh_world.client.token_for(demo_user(Role.VIEWER, commune))) as below,
        signed_in(url, fresh_world.client.token_for(PROVINCE_VIEWER)) as above,
    ):
        kinds = ["DIFFICULTY_ESCALATED"]
        await below.subscribe("1", PROGRESS_EVENTS, kinds=kinds)
        await above.subscribe("1", PROGRESS_EVENTS, kinds=kinds)
        await listening(url, 2)
        difficulty = await raised_id(fresh_world, reporter(cell), cell)
        renders = live_renders.value(EVENTS)
        await escalate(fresh_world, reporter(cell), difficulty)
        to_commune = [(await client.next_data("1"))["progressEvents"] for client in (below, above)]
        assert [event["difficulty"]["handledAt"] for event in to_commune] == [
            {"code": commune},
            {"code": commune},
        ]
        # One document, seen alike: executed once for both.
        assert live_renders.value(EVENTS) == renders + 1
        await escalate(fresh_world, reporter(commune), difficulty)
        to_province = [(await client.next_data("1"))["progressEvents"] for client in (below, above)]
        assert to_province[0]["difficulty"]["handledAt"] is None
        assert to_province[1]["difficulty"]["handledAt"] == {"code": PROVINCE}
        # Seen differently (the province only in one scope): once for each.
        assert live_renders.value(EVENTS) == renders + 3


async def test_a_change_is_executed_once_for_all_who_see_it_alike(fresh_world: DemoWorld) -> None:
    """Twenty subscriptions of one document on five sockets, by two users: a milestone is
    executed and encoded once and sent twenty times; another document is executed apart."""
    commune = demo_commune_code()
    tokens = [
        fresh_world.client.token_for(user)
        for user in (PROVINCE_VIEWER, demo_user(Role.VIEWER, commune))
    ]
    async with live_server(fresh_world) as url, AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(signed_in(url, tokens[n % 2])) for n in range(5)]
        ids = [str(n) for n in range(4)]
        for client in clients:
            for operation_id in ids:
                await client.subscribe(operation_id, PROGRESS_EVENTS, kinds=["MILESTONE"])
        aliased = clients[0]
        await aliased.subscribe("aliased", "subscription { e: progressEvents { kind } }")
        await listening(url, 21)
        renders, messages = live_renders.value(EVENTS), live_messages.value(EVENTS)
        await record(fresh_world, reporter(demo_cell_code()), demo_cell_code(), "plan_issued")
        received = [
            await client.next_data_of_each([*ids, "aliased"] if client is aliased else ids)
            for client in clients
        ]
        assert received[0].pop("aliased") == {"e": {"kind": "MILESTONE"}}
        shown = [json.dumps(data) for each in received for data in each.values()]
        assert len(shown) == 20
        assert len(set(shown)) == 1
        assert live_renders.value(EVENTS) == renders + 2
        assert live_messages.value(EVENTS) == messages + 21


async def test_an_idle_subscription_keeps_no_task_of_its_own(fresh_world: DemoWorld) -> None:
    """A subscriber costs its socket and a few small objects: no task, no generator waits
    for it (strawberry's operation task ends once the subscription is handed over)."""
    province = await committee_gid(fresh_world, PROVINCE)
    token = fresh_world.client.token_for(PROVINCE_VIEWER)
    async with live_server(fresh_world) as url, signed_in(url, token) as client:
        await client.subscribe("summary", PROGRESS, committeeId=province)
        assert "progress" in await client.next_data("summary")
        tasks_before = asyncio.all_tasks()
        for n in range(10):
            await client.subscribe(str(n), PROGRESS_EVENTS)
        await listening(url, 11)
        # No task started since is still there once strawberry's operation tasks end
        # (others, of earlier tests, may have ended).
        for _ in range(100):
            if not asyncio.all_tasks() - tasks_before:
                break
            await asyncio.sleep(0.02)
        assert asyncio.all_tasks() - tasks_before == set()


async def test_a_connection_is_refused_before_any_subscription_without_a_good_token(
    fresh_world: DemoWorld,
) -> None:
    async with live_server(fresh_world) as url:
        for payload in (
            {},
            {"Authorization": "Bearer not-a-token"},
            {"Authorization": f"Bearer {fresh_world.client.token_for('099999999999')}"},
        ):
            code, reason = await refused_with(url, payload)
            assert code == 4401, (payload, code, reason)
        # The upgrade request's header serves as well as connection_init's payload.
        token = fresh_world.client.token_for(PROVINCE_VIEWER)
        headers = {"Authorization": f"Bearer {token}"}
        async with signed_in(url, None, additional_headers=headers) as client:
            await client.subscribe("1", PROGRESS_EVENTS)
            await client.nothing_arrives(0.3)


async def test_failed_websocket_sign_ins_spend_the_addresss_quota_as_401s_do(
    fresh_world: DemoWorld,
) -> None:
    bad = {"Authorization": "Bearer not-a-token"}
    # No escalation loop: its reads would be counted among the statements below.
    async with live_server(
        fresh_world, failed_auth_per_minute=3, escalation_interval_seconds=0
    ) as url:
        codes = [(await refused_with(url, bad))[0] for _ in range(3)]
        with counted_statements(fresh_world.engine) as statements:
            code, reason = await refused_with(url, bad)
        # The quota is the address's, whichever way it was spent: HTTP is refused too.
        http_url = url.replace("ws://", "http://")
        async with httpx.AsyncClient() as http:
            over_http = await http.post(http_url, json={"query": "{ __typename }"}, headers=bad)
        # An official behind the same address still signs in: the token checks out.
        token = fresh_world.client.token_for(PROVINCE_VIEWER)
        async with signed_in(url, token) as client:
            await client.subscribe("1", PROGRESS_EVENTS)
            await client.nothing_arrives(0.2)
    assert codes == [4401, 4401, 4401]
    assert code == 4429
    assert reason.startswith('Rate limit reached: the quota "failed-authentication" of 3')
    assert statements == []  # refused before the database is read
    assert over_http.status_code == 429


async def test_subscriptions_are_limited_per_connection_and_per_user(
    fresh_world: DemoWorld,
) -> None:
    token = fresh_world.client.token_for(PROVINCE_VIEWER)
    async with (
        live_server(
            fresh_world, live_subscriptions_per_connection=2, live_subscriptions_per_user=3
        ) as url,
        signed_in(url, token) as first,
        signed_in(url, token) as second,
    ):
        await first.subscribe("a", PROGRESS_EVENTS)
        await first.subscribe("b", PROGRESS_EVENTS)
        await first.subscribe("c", PROGRESS_EVENTS)
        per_connection = await first.errors_of("c")
        await second.subscribe("d", PROGRESS_EVENTS)
        await listening(url, 3)
        await second.subscribe("e", PROGRESS_EVENTS)
        per_user = await second.errors_of("e")
        # Ending one frees its place, on the connection and for the user.
        await first.complete("a")
        hub = await hub_of(url)
        for _ in range(100):
            if hub.listener_count == 2:
                break
            await asyncio.sleep(0.02)
        assert hub.listener_count == 2
        await first.subscribe("f", PROGRESS_EVENTS)
        await listening(url, 3)
        await record(fresh_world, reporter(demo_commune_code()), demo_commune_code(), "plan_issued")
        received = await first.next_data_of_each(["b", "f"])
        await first.nothing_arrives(0.2)
    assert [error["extensions"] for error in per_connection] == [{"code": "COST_LIMIT", "limit": 2}]
    assert per_connection[0]["message"] == (
        "This connection already holds 2 subscriptions; end one first."
    )
    assert [error["extensions"]["code"] for error in per_user] == ["COST_LIMIT"]
    assert per_user[0]["message"] == (
        "You already hold 3 live subscriptions on this server; end one first."
    )
    assert {data[EVENTS]["kind"] for data in received.values()} == {"MILESTONE"}


async def test_a_connection_closes_when_its_token_expires(fresh_world: DemoWorld) -> None:
    token = fresh_world.client.issuer.issue(PROVINCE_VIEWER, 2)
    async with live_server(fresh_world) as url, signed_in(url, token) as client:
        await client.subscribe("1", PROGRESS_EVENTS)
        code, reason = await closed_with(client.socket)
        assert (code, reason) == (4401, "Unauthenticated: token expired")


async def test_deactivation_and_revocation_end_subscriptions_within_the_interval(
    fresh_world: DemoWorld,
) -> None:
    admin = demo_user(Role.ADMIN, CENTRAL_CODE)
    cell = demo_cell_code()
    cell_viewer, cell_reporter = demo_user(Role.VIEWER, cell), demo_user(Role.REPORTER, cell)
    interval_ms = 500
    async with (
        live_server(fresh_world, live_interval_ms=interval_ms) as url,
        signed_in(url, fresh_world.client.token_for(cell_viewer)) as revoked,
        signed_in(url, fresh_world.client.token_for(cell_reporter)) as deactivated,
    ):
        await revoked.subscribe("1", PROGRESS_EVENTS)
        await deactivated.subscribe("1", PROGRESS_EVENTS)
        await listening(url, 2)
        await mutate(
            fresh_world, admin, REVOKE_ROLE,
            userId=await user_gid(fresh_world, cell_viewer), committeeId=await committee_gid(fresh_world, cell),
        )  # fmt: skip
        await mutate(
            fresh_world, admin, DEACTIVATE_USER, userId=await user_gid(fresh_world, cell_reporter)
        )
        for client, code in ((revoked, "NOT_FOUND"), (deactivated, "UNAUTHENTICATED")):
            async with asyncio.timeout(interval_ms / 1000 + 1.0):
                errors = await client.errors_of("1")
            assert errors[0]["extensions"]["code"] == code, errors
        # Nothing they could no longer see reaches them afterwards (a `complete` may).
        commune_reporter = reporter(demo_commune_code())
        await record(
            fresh_world, commune_reporter, cell, "plan_issued", idempotencyKey=str(uuid.uuid4())
        )
        for client in (revoked, deactivated):
            try:
                message = await client.receive(within=1.0)
            except TimeoutError:
                continue
            assert message["type"] == "complete", message
            await client.nothing_arrives(0.5)


async def test_a_live_summary_is_read_once_per_change_whatever_its_subscribers(
    fresh_world: DemoWorld,
) -> None:
    """The statements a change costs the live summaries are the same with 1 subscriber as
    with 100: the summary is read once and shared."""
    province = await committee_gid(fresh_world, PROVINCE)
    commune_reporter = reporter(demo_commune_code())
    cells = [f"{demo_commune_code()}-001", f"{demo_commune_code()}-002"]
    statements_per_change: list[list[str]] = []
    # The writer's own caches (terms, templates) warm, so the two writes cost the same.
    await record(fresh_world, commune_reporter, demo_commune_code(), "plan_issued")
    async with (
        live_server(
            fresh_world,
            live_interval_ms=100,
            live_subscriptions_per_connection=101,
            live_subscriptions_per_user=101,
        ) as url,
        signed_in(url, fresh_world.client.token_for(PROVINCE_VIEWER)) as client,
    ):
        for subscribers, cell in zip((1, 100), cells, strict=True):
            ids = [f"{subscribers}-{n}" for n in range(subscribers)]
            for operation_id in ids:
                await client.subscribe(operation_id, PROGRESS, committeeId=province)
            before = await client.next_data_of_each(ids)
            with counted_statements(fresh_world.engine) as statements:
                await record(fresh_world, commune_reporter, cell, "plan_issued")
                after = await client.next_data_of_each(ids)
                # The hub's reads of the feed are the worker's, once per wakeup, and its
                # safety poll makes their number depend on timing: not counted here.
                statements_per_change.append(
                    [
                        statement
                        for statement in statements
                        if not statement.startswith(HUB_FEED_READ)
                    ]
                )
            for operation_id in ids:
                assert after[operation_id]["progress"]["inProgress"] == (
                    before[operation_id]["progress"]["inProgress"] + 1
                )
                await client.complete(operation_id)
    one, hundred = statements_per_change
    assert len(one) == len(hundred), (one, hundred)


async def test_idle_subscribers_hold_no_database_connection(fresh_world: DemoWorld) -> None:
    token = fresh_world.client.token_for(PROVINCE_VIEWER)
    province = await committee_gid(fresh_world, PROVINCE)
    async with (
        live_server(fresh_world) as url,
        signed_in(url, token) as client,
        event_stream(url, token, PROGRESS_EVENTS) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        await client.subscribe("events", PROGRESS_EVENTS)
        await client.subscribe("summary", PROGRESS, committeeId=province)
        assert "progress" in await client.next_data("summary")
        await listening(url, 3)
        # The hub's own reads borrow a connection for a moment: none may stay out.
        checked_out = []
        for _ in range(5):
            checked_out.append(fresh_world.engine.pool.checkedout())  # type: ignore[attr-defined]
            await asyncio.sleep(0.05)
        assert min(checked_out) == 0


async def test_server_sent_events_carry_the_same_events(fresh_world: DemoWorld) -> None:
    """For clients behind proxies that refuse websockets: graphql-sse's distinct
    connections mode (POST /graphql, Accept: text/event-stream)."""
    cell = demo_cell_code()
    token = fresh_world.client.token_for(PROVINCE_VIEWER)
    async with live_server(fresh_world) as url:
        async with event_stream(url, token, PROGRESS_EVENTS) as stream:
            await listening(url, 1)
            await record(fresh_world, reporter(cell), cell, "plan_issued")
            async with asyncio.timeout(ARRIVES_WITHIN_SECONDS):
                lines = stream.aiter_lines()
                async for line in lines:
                    if line.startswith("event: next"):
                        data = json.loads((await anext(lines)).removeprefix("data: "))
                        break
        event = data["data"]["progressEvents"]
        assert (event["kind"], event["committee"]["code"]) == ("MILESTONE", cell)
        # Without a token, the same 401 as any request.
        async with event_stream(url, None, PROGRESS_EVENTS) as refused:
            assert refused.status_code == 401


async def test_a_subscriber_that_stops_reading_is_disconnected_and_its_queue_freed(
    fresh_world: DemoWorld,
) -> None:
    """Thousands of changes at once (a deadline for every cell of the country) to a
    subscriber that reads nothing: once its socket is backed up and its queue passes the
    limit, the worker drops the queue and closes the socket saying to resume."""
    admin = demo_user(Role.ADMIN, CENTRAL_CODE)
    centre = await committee_gid(fresh_world, CENTRAL_CODE)
    async with live_server(fresh_world, live_queue_limit=20) as url:
        # A tiny receive buffer and a one-message queue: the client stops reading at once.
        reader = socket.socket()
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        reader.connect(("127.0.0.1", int(url.split(":")[2].split("/")[0])))
        async with signed_in(
            url, fresh_world.client.token_for(admin), sock=reader, max_queue=1
        ) as client:
            await client.subscribe("1", PROGRESS_EVENTS, kinds=["DEADLINE"])
            await listening(url, 1)
            hub = await hub_of(url)
            for deadline in ("2025-06-30", "2025-07-31"):
                await fresh_world.client.query(
                    admin, SET_DEADLINE,
                    input={"committeeId": centre, "deadline": deadline, "depth": CELL_DEPTH},
                )  # fmt: skip
            for _ in range(400):  # 20 s at most
                if hub.listener_count == 0:
                    break
                await asyncio.sleep(0.05)
            assert hub.listener_count == 0
            code, reason = await closed_with(client.socket)
        assert code == 4499
        assert "after" in reason


async def test_writers_committing_out_of_turn_reach_the_subscriber_in_feed_order(
    fresh_world: DemoWorld,
) -> None:
    """A transaction that took its feed position first and commits last: the writer behind
    it waits for its turn (PostgreSQL: the feed's advisory lock; SQLite: the write lock), so
    a subscriber never sees a position after a later one nor misses one."""
    cell = demo_cell_code()
    cell_id, cell_path = (
        await fresh_world.committee_id(cell),
        await fresh_world.committee_path(cell),
    )
    async with (
        live_server(fresh_world) as url,
        signed_in(url, fresh_world.client.token_for(PROVINCE_VIEWER)) as client,
    ):
        await client.subscribe("1", PROGRESS_EVENTS)
        await listening(url, 1)
        async with AsyncSession(fresh_world.engine) as first:
            await first.begin()
            append_change(
                first,
                kind="RESULTS",
                committee_id=cell_id,
                committee_path=cell_path,
                term_id=None,
                payload={},
            )
            await first.flush()  # its position is drawn; it has not committed
            second = asyncio.create_task(record(fresh_world, reporter(cell), cell, "plan_issued"))
            await asyncio.sleep(0.5)
            assert not second.done()  # waiting for the first's turn
            await first.commit()
        await second
        kinds = [(await client.next_data("1"))["progressEvents"]["kind"] for _ in range(2)]
        assert kinds == ["RESULTS", "MILESTONE"]
        await client.nothing_arrives(0.5)


async def test_a_connection_signed_in_before_a_revocation_cannot_subscribe_after_it(
    fresh_world: DemoWorld,
) -> None:
    """Each subscription reads its user again: a socket that signed in earlier gets no new
    subscription its user could no longer make."""
    admin = demo_user(Role.ADMIN, CENTRAL_CODE)
    cell = demo_cell_code()
    cell_viewer, cell_reporter = demo_user(Role.VIEWER, cell), demo_user(Role.REPORTER, cell)
    cell_id = await committee_gid(fresh_world, cell)
    async with (
        live_server(fresh_world) as url,
        signed_in(url, fresh_world.client.token_for(cell_viewer)) as revoked,
        signed_in(url, fresh_world.client.token_for(cell_reporter)) as deactivated,
    ):
        await mutate(
            fresh_world, admin, REVOKE_ROLE,
            userId=await user_gid(fresh_world, cell_viewer), committeeId=cell_id,
        )  # fmt: skip
        await mutate(
            fresh_world, admin, DEACTIVATE_USER, userId=await user_gid(fresh_world, cell_reporter)
        )
        await revoked.subscribe("1", PROGRESS_EVENTS, under=cell_id)
        assert (await revoked.errors_of("1"))[0]["extensions"]["code"] == "NOT_FOUND"
        await revoked.subscribe("2", PROGRESS, committeeId=cell_id)
        assert (await revoked.errors_of("2"))[0]["extensions"]["code"] == "NOT_FOUND"
        await deactivated.subscribe("1", PROGRESS_EVENTS)
        assert (await deactivated.errors_of("1"))[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_revocation_ends_a_live_summary_too(fresh_world: DemoWorld) -> None:
    admin = demo_user(Role.ADMIN, CENTRAL_CODE)
    cell = demo_cell_code()
    cell_viewer = demo_user(Role.VIEWER, cell)
    cell_id = await committee_gid(fresh_world, cell)
    async with (
        live_server(fresh_world, live_interval_ms=500) as url,
        signed_in(url, fresh_world.client.token_for(cell_viewer)) as client,
    ):
        await client.subscribe("1", PROGRESS, committeeId=cell_id)
        assert "progress" in await client.next_data("1")
        await mutate(
            fresh_world, admin, REVOKE_ROLE,
            userId=await user_gid(fresh_world, cell_viewer), committeeId=cell_id,
        )  # fmt: skip
        async with asyncio.timeout(1.5):
            errors = await client.errors_of("1")
        assert errors[0]["extensions"]["code"] == "NOT_FOUND"


async def test_queries_and_mutations_are_refused_over_a_stream(fresh_world: DemoWorld) -> None:
    """They are HTTP requests (signed in, rate-limited, timed each time): over a websocket
    or an event stream they are refused before they run."""
    cell = demo_cell_code()
    token = fresh_world.client.token_for(reporter(cell))
    milestone = {
        "input": {"committeeId": await committee_gid(fresh_world, cell),
                  "milestone": "plan_issued", "status": "DONE", "occurredOn": "2025-03-01"},
    }  # fmt: skip
    async with live_server(fresh_world) as url:
        async with signed_in(url, token) as client:
            await client.subscribe("query", "{ viewer { subject } }")
            await client.subscribe("mutation", RECORD_MILESTONE, **milestone)
            for operation_id in ("query", "mutation"):
                errors = await client.errors_of(operation_id)
                assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", errors
                assert "HTTP" in errors[0]["message"]
        async with event_stream(url, token, RECORD_MILESTONE, **milestone) as stream:
            body = (await stream.aread()).decode()
        assert "BAD_USER_INPUT" in body
        assert "CongressPayload" not in body
    congress = await congress_of(fresh_world, reporter(cell), cell)
    assert congress["status"] == "NOT_STARTED"


async def test_an_event_stream_ends_when_its_token_expires(fresh_world: DemoWorld) -> None:
    token = fresh_world.client.issuer.issue(PROVINCE_VIEWER, 2)
    async with (
        live_server(fresh_world) as url,
        event_stream(url, token, PROGRESS_EVENTS) as stream,
    ):
        async with asyncio.timeout(ARRIVES_WITHIN_SECONDS):
            body = (await stream.aread()).decode()
    assert "UNAUTHENTICATED" in body
    assert "event: complete" in body


async def test_a_move_ends_the_subscriptions_under_the_old_place(fresh_world: DemoWorld) -> None:
    """A commune moved to another province: a subscription `under` it (or a summary of it)
    would go on listening where it no longer is; it ends with RESYNC_REQUIRED, and one over
    the old province as a whole goes on."""
    admin = demo_user(Role.ADMIN, CENTRAL_CODE)
    commune = await committee_gid(fresh_world, demo_commune_code())
    async with (
        live_server(fresh_world) as url,
        signed_in(url, fresh_world.client.token_for(admin)) as client,
    ):
        await client.subscribe("under", PROGRESS_EVENTS, under=commune)
        await client.subscribe("summary", PROGRESS, committeeId=commune)
        await client.subscribe(
            "province", PROGRESS_EVENTS, under=await committee_gid(fresh_world, PROVINCE)
        )
        assert "progress" in await client.next_data("summary")
        await listening(url, 3)
        moved = await mutate(
            fresh_world, admin, MOVE_COMMITTEE,
            id=commune, newParentId=await committee_gid(fresh_world, SIBLING_PROVINCE_CODE),
        )  # fmt: skip
        assert moved["__typename"] == "CommitteePayload", moved
        for operation_id in ("under", "summary"):
            errors = await client.errors_of(operation_id)
            assert errors[0]["extensions"]["code"] == "RESYNC_REQUIRED", errors
        await client.nothing_arrives(0.5)
