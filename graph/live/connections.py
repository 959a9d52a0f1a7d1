"""graphql-transport-ws connections, signed in exactly as HTTP requests are.

The token comes in `connection_init`'s payload (`{"Authorization": "Bearer …"}`, what
browsers can send) or in the upgrade request's Authorization header. It is checked by the
same code as every HTTP request (permissions/authentication.py): a refusal closes the
socket before any subscription can start, with 4401 (no, bad or expired token, unknown or
inactive user) or 4403 (identity proven below the required assurance level), and the
refusal of a verified identity is audited as on HTTP. Each refusal is charged to the
client address's failed-authentication quota, as a 401 is; once it is spent, a token that
does not check out closes the socket with 4429 before the database is read. When the
token expires the socket is closed with 4401: the client signs in again and resumes from
its last cursor.

Cross-site websocket hijacking: strawberry refuses a handshake from another origin unless
configured otherwise (none is), and the token is never a cookie.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Protocol, cast

import strawberry
from graphql.execution import Executor
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import Headers
from starlette.types import Scope
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)

from graph.context import Context
from graph.errors import CostLimitError
from graph.live.delivery import (
    Outbox,
    Pushed,
    ending_messages,
)
from graph.live.handover import push_through
from graph.live.hub import FellBehind, ListenerEnded
from graph.live.subscriptions import EventsFollowed, LiveChange, SummaryFollowed
from graph.rate_limits import FailedAuthentications
from graph.rate_limits.buckets import Charge
from graph.rate_limits.middleware import refusal_message
from permissions.authentication import (
    AuthenticationError,
    RefusalReason,
    authenticate_until,
    record_refusal,
)
from permissions.browser_sessions import credential_of
from permissions.tokens import TokenVerifier
from permissions.viewer import Viewer

logger = logging.getLogger("congress.live")

UNAUTHORIZED = 4401
FORBIDDEN = 4403
TRY_AGAIN_LATER = 1013
# Past the address's quota of failed authentications (HTTP would answer 429).
TOO_MANY_FAILED = 4429
# Close code and reason for a subscriber that stopped reading.
FELL_BEHIND = 4499
FELL_BEHIND_REASON = "Too far behind: subscribe again with `after` set to your last cursor."
# A close frame's reason is at most 123 bytes.
_MAX_REASON_BYTES = 123


class SignedInTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """strawberry's graphql-transport-ws handler, with sign-in at `connection_init`, and
    subscriptions pushed (graph/live/delivery.py): strawberry starts each operation in a
    task; a subscription that started is handed to this connection and its task ends."""

    _expiry: asyncio.TimerHandle | None = None
    # Set once this side closes the socket: what strawberry still tries to send is dropped
    # (it would log each as a failed task); the outbox is closed with the subscriptions.
    _closing = False
    # Made by the first subscription pushed.
    _outbox: Outbox | None = None
    _pushed: dict[str, Pushed] | None = None
    _closer: asyncio.Task[None] | None = None

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        # strawberry refuses past the limit too, but with no `extensions.code`.
        limit = self.max_subscriptions_per_connection
        if (
            self.connection_acknowledged
            and limit is not None
            and len(self.operations) >= limit
            and message["id"] not in self.operations
        ):
            error = CostLimitError(
                f"This connection already holds {limit} subscriptions; end one first.",
                limit=limit,
            )
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [error.formatted]}
            )
            return
        await super().handle_subscribe(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload = message.get("payload") or {}
        if self.connection_init_received or not isinstance(payload, dict):
            await super().handle_connection_init(message)  # strawberry's refusals
            return
        authorization = _authorization(payload) or self._upgrade_authorization()
        signing_in = cast("SignsConnectionsIn", self.view).sign_in
        try:
            viewer, expires_at = await signing_in.check(authorization, self._scope())
        except TooManyFailedSignIns as refusal:
            await self._refuse_sign_in(TOO_MANY_FAILED, str(refusal))
            return
        except AuthenticationError as error:
            code = (
                FORBIDDEN if error.reason is RefusalReason.INSUFFICIENT_ASSURANCE else UNAUTHORIZED
            )
            await self._refuse_sign_in(
                code, f"Unauthenticated: {error.reason.value.replace('_', ' ')}"
            )
            return
        except Exception:
            # The database unreachable, say: the client tries again later.
            logger.exception("signing a websocket in failed")
            await self._refuse_sign_in(TRY_AGAIN_LATER, "Unavailable: try again later")
            return
        self.context.viewer = viewer
        # A timer, not a task sleeping until then: thousands of idle sockets a worker.
        loop = asyncio.get_running_loop()
        self._expiry = loop.call_at(
            loop.time() + max(0.0, expires_at - time.time()), self._token_expired
        )
        await super().handle_connection_init(message)
        # Signed in: strawberry's wait for `connection_init` would sleep on for nothing.
        waiting, self.connection_init_timeout_task = self.connection_init_timeout_task, None
        if waiting is not None:
            waiting.cancel()

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        # The operation's own task: its resolver finds here where to hand its subscription.
        push_through(_OperationOnSocket(self, operation))
        await super().run_operation(operation)

    def take_over(
        self,
        operation: Operation[Context, None],
        followed: EventsFollowed | SummaryFollowed,
        shown: Callable[[LiveChange], object] | None,
    ) -> None:
        """Push the subscription that `operation` started from now on."""
        parts = followed.parts
        schema = cast("strawberry.Schema", self.schema)
        group = parts.pusher.group_for(
            # strawberry keeps graphql-core's schema as `_schema`, with no public name.
            schema._schema,
            schema.execution_context_class or Executor,
            operation.query,
            operation.operation_name,
            operation.variables,
        )
        if self._outbox is None:
            socket = cast("ASGIWebSocketAdapter", self.websocket).ws
            self._outbox = Outbox(
                socket.send_text, self.context.settings.live_queue_limit, self._fell_behind
            )
        pushed = Pushed(followed, shown, operation.id, group, self._outbox, self._pushed_ended)
        # strawberry would send `complete` when the resolver returns: it goes on here, and
        # the operation's task, ending now, is not kept.
        operation.completed = True
        operation.task = None
        # Kept for strawberry's count of the connection's operations: one text for all.
        operation.query = group.query
        if self._pushed is None:
            self._pushed = {}
        self._pushed[operation.id] = pushed
        pushed.listen(parts.pusher.ready)

    async def cleanup_operation(self, operation_id: str) -> None:
        """The client's `complete` (or strawberry's end of an operation)."""
        pushed = None if self._pushed is None else self._pushed.pop(operation_id, None)
        if pushed is None:
            await super().cleanup_operation(operation_id)
            return
        self._stop_pushing(pushed)
        # The client may reuse the id at once: nothing of the old one may come after.
        pushed.outbox.forget(operation_id)

    async def shutdown(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        self._end_pushed()
        await super().shutdown()

    def _pushed_ended(self, pushed: Pushed, ended: ListenerEnded) -> None:
        """The pusher saw `pushed` end from the server's side: tell its subscriber why."""
        if self._pushed is None or self._pushed.get(pushed.operation_id) is not pushed:
            return
        del self._pushed[pushed.operation_id]
        self._stop_pushing(pushed)
        if isinstance(ended, FellBehind):
            self._fell_behind()
            return
        for message in ending_messages(pushed.operation_id, ended):
            pushed.outbox.put(pushed.operation_id, message)

    def _fell_behind(self) -> None:
        """Its socket is backed up: a message would wait behind the rest, so the close
        frame says it (and the memory its subscriptions held is freed now)."""
        self._end_pushed()
        self._close_with(FELL_BEHIND, FELL_BEHIND_REASON)

    def _end_pushed(self) -> None:
        pushed_ones = [] if self._pushed is None else list(self._pushed.values())
        self._pushed = None
        for pushed in pushed_ones:
            self._stop_pushing(pushed)
        if self._outbox is not None:
            self._outbox.close()

    def _stop_pushing(self, pushed: Pushed) -> None:
        """Forget the operation (strawberry's count too) and end its subscription."""
        self.operations.pop(pushed.operation_id, None)
        pushed.closed = True
        pushed.followed.finish()
        pushed.followed.parts.pusher.leave(pushed)

    def _token_expired(self) -> None:
        self._close_with(UNAUTHORIZED, "Unauthenticated: token expired")

    def _close_with(self, code: int, reason: str) -> None:
        if not self._closing:
            self._closing = True
            self._closer = asyncio.create_task(self._disconnect(code, reason), name="live-close")

    async def _disconnect(self, code: int, reason: str) -> None:
        with suppress(Exception):  # already closed by the client
            await self.websocket.close(code=code, reason=reason[:_MAX_REASON_BYTES])

    async def send_message(self, message: Message) -> None:
        if not self._closing:
            await super().send_message(message)

    async def _refuse_sign_in(self, code: int, reason: str) -> None:
        """Close the socket before any subscription, saying why; the sign-in wait is over."""
        self.connection_init_received = True
        if self.connection_init_timeout_task is not None:
            self.connection_init_timeout_task.cancel()
        await self.websocket.close(code=code, reason=reason[:_MAX_REASON_BYTES])

    def _upgrade_authorization(self) -> str | None:
        return Headers(scope=self._scope()).get("authorization")

    def _scope(self) -> Scope:
        return cast("ASGIWebSocketAdapter", self.websocket).ws.scope


@dataclass(frozen=True, slots=True)
class _OperationOnSocket:
    """Where a subscription started by `operation` is handed (graph/live/handover.py)."""

    handler: SignedInTransportWSHandler
    operation: Operation[Context, None]

    def push_events(self, followed: EventsFollowed, shown: Callable[[LiveChange], object]) -> None:
        self.handler.take_over(self.operation, followed, shown)

    def push_summaries(self, followed: SummaryFollowed) -> None:
        self.handler.take_over(self.operation, followed, None)


class SignsConnectionsIn(Protocol):
    """The view serving the websocket (graph/app.py CongressGraphQL) holds the sign-in."""

    sign_in: ConnectionSignIn


class TooManyFailedSignIns(Exception):
    """The address's failed authentications spent its quota, and this token does not
    check out either (graph/rate_limits/middleware.py, FailedAuthentications)."""

    def __init__(self, charge: Charge) -> None:
        super().__init__(refusal_message(charge))


class ConnectionSignIn:
    """What a connection's sign-in needs: the token verifier, a session to read with, and
    the failed-authentication quota of the client's address, shared with HTTP."""

    def __init__(
        self,
        verifier: TokenVerifier,
        sessions: async_sessionmaker[AsyncSession],
        failed_authentications: FailedAuthentications | None,
    ) -> None:
        self._verifier = verifier
        self._sessions = sessions
        self._failed_authentications = failed_authentications

    async def check(self, authorization: str | None, scope: Scope) -> tuple[Viewer, float]:
        failures = self._failed_authentications
        if failures is not None:
            refused = await failures.refusal(scope, credential_of(authorization, None))
            if refused is not None:
                raise TooManyFailedSignIns(refused)
        try:
            async with self._sessions() as session:
                try:
                    return await authenticate_until(authorization, self._verifier, session)
                except AuthenticationError as error:
                    try:
                        await record_refusal(session, error, None)
                    except Exception:
                        logger.exception("could not record a refused websocket sign-in")
                    raise
        except AuthenticationError:
            if failures is not None:  # with the session closed: this may ask Redis
                await failures.charge(scope)
            raise


def _authorization(payload: dict[str, object]) -> str | None:
    for name in ("Authorization", "authorization"):
        value = payload.get(name)
        if isinstance(value, str):
            return value
    return None
