"""graphql-transport-ws connections, signed in exactly as HTTP requests are.

The token comes in `connection_init`'s payload (`{"Authorization": "Bearer …"}`, what
browsers can send) or in the upgrade request's Authorization header. It is checked by the
same code as every HTTP request (permissions/authentication.py): a refusal closes the
socket before any subscription can start, with 4401 (no, bad or expired token, unknown or
inactive user) or 4403 (identity proven below the required assurance level), and the
refusal of a verified identity is audited as on HTTP. When the token expires the socket is
closed with 4401: the client signs in again and resumes from its last cursor.

Cross-site websocket hijacking: strawberry refuses a handshake from another origin unless
configured otherwise (none is), and the token is never a cookie.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress
from typing import Protocol, cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
)

from graph.context import Context
from permissions.authentication import (
    AuthenticationError,
    RefusalReason,
    authenticate_until,
    record_refusal,
)
from permissions.tokens import TokenVerifier
from permissions.viewer import Viewer

logger = logging.getLogger("congress.live")

UNAUTHORIZED = 4401
FORBIDDEN = 4403
TRY_AGAIN_LATER = 1013
# A close frame's reason is at most 123 bytes.
_MAX_REASON_BYTES = 123


class SignedInTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """strawberry's graphql-transport-ws handler, with sign-in at `connection_init`."""

    _expiry: asyncio.Task[None] | None = None
    # Set once this side closes the socket: what operations still try to send is dropped
    # (strawberry would log each as a failed task).
    _closing = False

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload = message.get("payload") or {}
        if self.connection_init_received or not isinstance(payload, dict):
            await super().handle_connection_init(message)  # strawberry's refusals
            return
        authorization = _authorization(payload) or self._upgrade_authorization()
        signing_in = cast("SignsConnectionsIn", self.view).sign_in
        try:
            viewer, expires_at = await signing_in.check(authorization)
        except AuthenticationError as error:
            self.connection_init_received = True
            if self.connection_init_timeout_task is not None:
                self.connection_init_timeout_task.cancel()
            code = (
                FORBIDDEN if error.reason is RefusalReason.INSUFFICIENT_ASSURANCE else UNAUTHORIZED
            )
            reason = f"Unauthenticated: {error.reason.value.replace('_', ' ')}"
            await self.websocket.close(code=code, reason=reason[:_MAX_REASON_BYTES])
            return
        except Exception:
            # The database unreachable, say: the client tries again later.
            logger.exception("signing a websocket in failed")
            self.connection_init_received = True
            await self.websocket.close(code=TRY_AGAIN_LATER, reason="Unavailable: try again later")
            return
        self.context.viewer = viewer
        self.context.disconnect = self._disconnect
        self._expiry = asyncio.create_task(self._close_at(expires_at), name="live-token-expiry")
        await super().handle_connection_init(message)

    async def shutdown(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            with suppress(asyncio.CancelledError):
                await self._expiry
        await super().shutdown()

    async def _close_at(self, expires_at: float) -> None:
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        await self._disconnect(UNAUTHORIZED, "Unauthenticated: token expired")

    async def _disconnect(self, code: int, reason: str) -> None:
        self._closing = True
        with suppress(Exception):  # already closed by the client
            await self.websocket.close(code=code, reason=reason[:_MAX_REASON_BYTES])

    async def send_message(self, message: Message) -> None:
        if not self._closing:
            await super().send_message(message)

    def _upgrade_authorization(self) -> str | None:
        request = getattr(self.websocket, "ws", None)
        headers = getattr(request, "headers", None)
        return None if headers is None else headers.get("authorization")


class SignsConnectionsIn(Protocol):
    """The view serving the websocket (graph/app.py CongressGraphQL) holds the sign-in."""

    sign_in: ConnectionSignIn


class ConnectionSignIn:
    """What a connection's sign-in needs: the token verifier and a session to read with."""

    def __init__(self, verifier: TokenVerifier, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._verifier = verifier
        self._sessions = sessions

    async def check(self, authorization: str | None) -> tuple[Viewer, float]:
        async with self._sessions() as session:
            try:
                return await authenticate_until(authorization, self._verifier, session)
            except AuthenticationError as error:
                try:
                    await record_refusal(session, error, None)
                except Exception:
                    logger.exception("could not record a refused websocket sign-in")
                raise


def _authorization(payload: dict[str, object]) -> str | None:
    for name in ("Authorization", "authorization"):
        value = payload.get(name)
        if isinstance(value, str):
            return value
    return None
