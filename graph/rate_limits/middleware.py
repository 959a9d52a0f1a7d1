"""Where the quotas are charged and told (graph/rate_limits/policies.py).

- `RateLimitGate`, outside authentication: refuses what can be refused before the
  database is read: a token this worker accepted lately whose user's bucket is empty
  (without even checking the token), and what `FailedAuthentications` refuses.
- `FailedAuthentications`, for HTTP and websocket sign-ins alike: once an address's
  failed authentications (401s, refused websocket sign-ins, charged to it) have spent
  its quota, the address's attempts whose token does not check out (signature and
  claims only), so that officials behind the same address as a misbehaving client keep
  working.
- `UserRateLimit`, inside authentication: opens the user's `Meter` (a request that reads
  no data is charged before its user is read: `RecentAccounts`). The operation's cost
  is charged by OperationLimits (graph/schema/limits.py) once it is known, before
  anything runs; an export pays EXPORT_COST before it starts; a request that never gets
  as far (a syntax error) pays REQUEST_COST as its answer starts. Every answer carries
  the headers of what is left.

A bucket found empty is remembered by the worker (`EmptyBuckets`) until it fills again,
so the next requests of that user or address are refused without asking Redis, and a
flood from one user costs the worker little more than reading the headers.
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph.authentication import SIGN_IN_STATE_KEY, VIEWER_STATE_KEY
from graph.errors import RATE_LIMITED
from graph.graphql_over_http import response_media_type
from graph.observability.metrics import count_refusal
from graph.rate_limits.buckets import Buckets, Charge, Policy
from graph.rate_limits.policies import (
    REQUEST_COST,
    RolePolicies,
    rate_limit_headers,
    refusal_headers,
)
from graph.request_bounds import send_refusal
from permissions.authentication import SignIn
from permissions.browser_sessions import (
    BrowserSessions,
    Credential,
    CredentialKind,
    credential_of,
)
from permissions.tokens import TokenError, TokenVerifier
from permissions.viewer import Viewer

# Tokens accepted by this worker, remembered for this long after they were last used (a
# token's own expiry is checked whenever it is authenticated).
MAX_ACCEPTED_TOKENS = 10_000
ACCEPTED_TOKEN_SECONDS = 600.0
MAX_EMPTY_BUCKETS = 100_000
MAX_RECENT_ACCOUNTS = 100_000


class EmptyBuckets:
    """The buckets this worker found empty, and until when they stay so."""

    def __init__(self) -> None:
        self._until: OrderedDict[str, tuple[float, Charge]] = OrderedDict()

    def note(self, key: str, charge: Charge) -> None:
        wait = charge.time_until_not_empty
        if wait == 0:
            self._until.pop(key, None)
            return
        self._until[key] = (time.monotonic() + wait, charge)
        if len(self._until) > MAX_EMPTY_BUCKETS:
            self._until.popitem(last=False)

    def still_empty(self, key: str) -> Charge | None:
        """The charge that found `key` empty, while it has not filled since; else None."""
        found = self._until.get(key)
        if found is None:
            return None
        until, charge = found
        left = until - time.monotonic()
        if left <= 0:
            del self._until[key]
            return None
        # What it holds now, for the headers: short of the one unit it needs by what is
        # still to flow back in.
        return Charge(charge.policy, False, 1 - left * charge.policy.refill_per_second)


@dataclass(slots=True)
class Meter:
    """One request's account with its user's bucket: charged once. Which bucket, at which
    quota, is asked (`account`) when it is charged: by then a request that reads data has
    read its user."""

    buckets: Buckets
    empty: EmptyBuckets
    account: Callable[[], tuple[str, Policy]]
    charged: Charge | None = None
    # Whether the charge was made before the request ran, so that a refusal refused it.
    refused_before_running: bool = field(default=False)

    async def charge(self, cost: int) -> Charge:
        """Take REQUEST_COST + `cost` from the bucket (only the first call charges)."""
        if self.charged is None:
            key, policy = self.account()
            self.charged = await self.buckets.charge(key, policy, REQUEST_COST + cost)
            self.empty.note(key, self.charged)
        return self.charged

    async def charge_before_running(self, cost: int) -> Charge:
        charge = await self.charge(cost)
        if not charge.allowed:
            self.refused_before_running = True
            count_refusal("rate_limit")
        return charge


current_meter: ContextVar[Meter | None] = ContextVar("congress_rate_limit_meter", default=None)


def refusal_message(charge: Charge) -> str:
    wait = charge.seconds_until_not_empty or 1
    return (
        f'Rate limit reached: the quota "{charge.policy.name}" of {charge.policy.quota:,} '
        f"a minute is spent. Try again in {wait} s."
    )


def refusal_extensions(charge: Charge) -> dict[str, object]:
    return {
        "code": RATE_LIMITED,
        "policy": charge.policy.name,
        "retryAfterSeconds": charge.seconds_until_not_empty or 1,
    }


async def send_rate_limited(send: Send, charge: Charge, scope: Scope) -> None:
    """A 429, in the media type the client asked for (graph/graphql_over_http.py)."""
    media_type = response_media_type(Headers(scope=scope).get("accept"))
    await send_refusal(
        send,
        429,
        refusal_message(charge),
        refusal_extensions(charge),
        refusal_headers(charge),
        content_type=media_type,
    )


def _with_headers(
    message: Message, added: list[tuple[bytes, bytes]], status: int | None
) -> Message:
    replaced = {name for name, _value in added}
    headers = [
        (name, value) for name, value in message.get("headers", []) if name.lower() not in replaced
    ]
    return {**message, "headers": [*headers, *added], "status": status or message["status"]}


class RecentAccounts:
    """The bucket and quota of each sign-in (`identity_key`) whose user this worker read
    lately, so that a request that reads no data, whose user is not read, is charged where
    that user's other requests are."""

    def __init__(self) -> None:
        self._found: OrderedDict[str, tuple[str, Policy]] = OrderedDict()

    def note(self, identity: str, account: tuple[str, Policy]) -> None:
        self._found.pop(identity, None)
        self._found[identity] = account
        if len(self._found) > MAX_RECENT_ACCOUNTS:
            self._found.popitem(last=False)

    def get(self, identity: str) -> tuple[str, Policy] | None:
        return self._found.get(identity)


class UserRateLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        buckets: Buckets,
        policies: RolePolicies,
        empty: EmptyBuckets,
        recent: RecentAccounts,
        cost_before_running: int | None = None,
    ) -> None:
        """`cost_before_running`: what a request costs, when it is known before it runs
        (an export); None: the operation's limits charge it (graph/schema/limits.py)."""
        self._app = app
        self._buckets = buckets
        self._policies = policies
        self._empty = empty
        self._recent = recent
        self._cost_before_running = cost_before_running

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.get("state", {})
        sign_in: SignIn | None = state.get(SIGN_IN_STATE_KEY)
        if scope["type"] != "http" or sign_in is None:
            await self._app(scope, receive, send)
            return
        identity = identity_key(sign_in)

        def account() -> tuple[str, Policy]:
            """The user's bucket and their role's quota, once the user is read; before
            (a request that reads no data), the bucket and quota this worker last saw for
            the same sign-in, else the sign-in's own at the smallest quota."""
            viewer: Viewer | None = state.get(VIEWER_STATE_KEY)
            if viewer is None:
                return self._recent.get(identity) or (identity, self._policies.unread_user)
            found = (user_key(viewer.subject), self._policies.for_viewer(viewer))
            self._recent.note(identity, found)
            return found

        empty = self._empty.still_empty(account()[0])
        if empty is not None:
            count_refusal("rate_limit")
            await send_rate_limited(send, empty, scope)
            return
        meter = Meter(self._buckets, self._empty, account)
        if self._cost_before_running is not None:
            charge = await meter.charge_before_running(self._cost_before_running)
            if not charge.allowed:
                await send_rate_limited(send, charge, scope)
                return

        async def send_with_headers(message: Message) -> None:
            # A 401 (the user gone since the token was issued) is charged to the address
            # (RateLimitGate), not to a user.
            if message["type"] == "http.response.start" and message["status"] != 401:
                charge = await meter.charge(0)
                if meter.refused_before_running:
                    message = _with_headers(message, refusal_headers(charge), 429)
                else:
                    message = _with_headers(message, rate_limit_headers(charge), None)
            await send(message)

        token = current_meter.set(meter)
        try:
            await self._app(scope, receive, send_with_headers)
        finally:
            current_meter.reset(token)


class AcceptedTokens:
    """The bearer tokens this worker accepted lately, by digest, and whose they were."""

    def __init__(self) -> None:
        self._seen: OrderedDict[bytes, tuple[float, str]] = OrderedDict()

    @staticmethod
    def _digest(credential: Credential) -> bytes:
        return hashlib.blake2b(
            f"{credential.kind}:{credential.value}".encode(), digest_size=16
        ).digest()

    def add(self, credential: Credential, user_key: str) -> None:
        digest = self._digest(credential)
        self._seen.pop(digest, None)
        self._seen[digest] = (time.monotonic() + ACCEPTED_TOKEN_SECONDS, user_key)
        if len(self._seen) > MAX_ACCEPTED_TOKENS:
            self._seen.popitem(last=False)

    def user_of(self, credential: Credential | None) -> str | None:
        """The bucket key of the user this token proved lately, or None."""
        if credential is None:
            return None
        digest = self._digest(credential)
        found = self._seen.pop(digest, None)
        now = time.monotonic()
        if found is None or found[0] <= now:
            return None
        self._seen[digest] = (now + ACCEPTED_TOKEN_SECONDS, found[1])
        return found[1]


def user_key(subject: str) -> str:
    return f"user:{subject}"


def identity_key(sign_in: SignIn) -> str:
    """The bucket of a sign-in as far as it is known before its user is read: a bearer
    token's subject is its user's; a session cookie's user is in the database."""
    if sign_in.subject is not None:
        return user_key(sign_in.subject)
    return f"session:{sign_in.session_digest}"


def client_address(scope: Scope) -> str:
    """The client's address as uvicorn saw it (behind a proxy, from X-Forwarded-For when
    the proxy is trusted: `--forwarded-allow-ips`). An IPv6 client holds a whole /64 (it
    may take any address in it), so the /64 is what is limited."""
    client = scope.get("client")
    if not client:
        return "unknown"
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return str(client[0])
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class FailedAuthentications:
    """Each client address may fail authentication only so often, over HTTP and websockets
    alike: once its failures (charged to it) have spent its quota, what it sends with a
    token that does not check out (signature and claims only: no database read, no
    refusal recorded) is refused before it is looked at. Officials behind the same address
    as a flood of bad tokens (a NAT, a carrier's gateway) keep working."""

    def __init__(
        self,
        buckets: Buckets,
        empty: EmptyBuckets,
        policy: Policy,
        verifier: TokenVerifier,
        browser_sessions: BrowserSessions | None,
    ) -> None:
        self._buckets = buckets
        self._empty = empty
        self._policy = policy
        self._verifier = verifier
        self._browser_sessions = browser_sessions

    async def refusal(self, scope: Scope, credential: Credential | None) -> Charge | None:
        """The charge that emptied the address's quota, when this attempt (its bearer
        token, or its session cookie: `credential_of`) is refused."""
        address_empty = self._empty.still_empty(_address_key(scope))
        if address_empty is None or await self._verifies(credential):
            return None
        count_refusal("failed_authentication")
        return address_empty

    async def charge(self, scope: Scope) -> Charge:
        """One failure, charged to the address the attempt came from."""
        key = _address_key(scope)
        charge = await self._buckets.charge(key, self._policy, 1)
        self._empty.note(key, charge)
        return charge

    async def _verifies(self, credential: Credential | None) -> bool:
        if credential is None:
            return False
        if credential.kind is CredentialKind.COOKIE:
            # A session cookie checks out when its MAC is ours and its end has not come
            # (no database read).
            sessions = self._browser_sessions
            return sessions is not None and await sessions.secret_of(credential.value) is not None
        scheme, _, token = credential.value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        try:
            await self._verifier.verify(token.strip())
        except TokenError:
            return False
        return True


def _address_key(scope: Scope) -> str:
    return f"address:{client_address(scope)}"


class RateLimitGate:
    """Outside authentication: what can be refused before a token is read.

    - A token this worker accepted lately whose user's bucket it found empty: 429 at once,
      without checking the token or reading the user again.
    - From an address whose failed authentications spent its quota, a request whose token
      this worker has not accepted lately and that does not check out: 429
      (`FailedAuthentications`).
    - A 401 is charged to the address (when failed authentications are limited).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        empty: EmptyBuckets,
        accepted: AcceptedTokens,
        failed_authentications: FailedAuthentications | None,
    ) -> None:
        self._app = app
        self._empty = empty
        self._accepted = accepted
        self._failed_authentications = failed_authentications

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        credential = credential_of(headers.get("authorization"), headers.get("cookie"))
        known_user = self._accepted.user_of(credential)
        user_empty = None if known_user is None else self._empty.still_empty(known_user)
        if user_empty is not None:
            count_refusal("rate_limit")
            await send_rate_limited(send, user_empty, scope)
            return
        send_on = send
        failures = self._failed_authentications
        if failures is not None:
            address_empty = (
                None if known_user is not None else await failures.refusal(scope, credential)
            )
            if address_empty is not None:
                await send_rate_limited(send, address_empty, scope)
                return

            async def send_charging_failures(message: Message) -> None:
                if message["type"] == "http.response.start" and message["status"] == 401:
                    charge = await failures.charge(scope)
                    message = _with_headers(message, rate_limit_headers(charge), None)
                await send(message)

            send_on = send_charging_failures

        await self._app(scope, receive, send_on)
        viewer = scope.get("state", {}).get(VIEWER_STATE_KEY)
        if credential is not None and viewer is not None and known_user is None:
            self._accepted.add(credential, user_key(viewer.subject))
