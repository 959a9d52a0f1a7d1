"""Rate limits: each user spends the cost of what they ask from a quota a minute set by
their role, each client address may fail authentication only so often, and every answer
says what is left (README, Rate limits). Shared by all workers and hosts through Redis
when CONGRESS_REDIS_URL is set; per worker otherwise, and while Redis is down."""

from __future__ import annotations

from starlette.types import ASGIApp

from config import Settings
from graph.rate_limits.buckets import Buckets, RedisBuckets
from graph.rate_limits.middleware import (
    AcceptedTokens,
    EmptyBuckets,
    FailedAuthentications,
    RateLimitGate,
    RecentAccounts,
    UserRateLimit,
)
from graph.rate_limits.policies import EXPORT_COST, RolePolicies, failed_authentication_policy
from permissions.browser_sessions import BrowserSessions
from permissions.tokens import TokenVerifier

__all__ = ["EXPORT_COST", "Buckets", "FailedAuthentications", "RateLimits", "RedisBuckets"]


class RateLimits:
    """Wraps the authenticated routes in what the settings ask for (nothing when off)."""

    def __init__(
        self,
        settings: Settings,
        buckets: Buckets,
        verifier: TokenVerifier,
        browser_sessions: BrowserSessions | None,
    ) -> None:
        self._buckets = buckets
        self._empty = EmptyBuckets()
        self._accepted = AcceptedTokens()
        self._recent = RecentAccounts()
        self._policies = (
            RolePolicies.per_minute(dict(settings.rate_limits)) if settings.rate_limits else None
        )
        # None when unlimited (CONGRESS_FAILED_AUTH_PER_MINUTE=0).
        self.failed_authentications = (
            FailedAuthentications(
                buckets,
                self._empty,
                failed_authentication_policy(settings.failed_auth_per_minute),
                verifier,
                browser_sessions,
            )
            if settings.failed_auth_per_minute
            else None
        )

    def around_authentication(self, app: ASGIApp) -> ASGIApp:
        """Outside authentication: what can be refused before a token is read, and failed
        authentications charged to the address."""
        if self.failed_authentications is None and self._policies is None:
            return app
        return RateLimitGate(
            app,
            empty=self._empty,
            accepted=self._accepted,
            failed_authentications=self.failed_authentications,
        )

    def per_user(self, app: ASGIApp, cost_before_running: int | None = None) -> ASGIApp:
        """Inside authentication: the user's requests are charged to their bucket."""
        if self._policies is None:
            return app
        return UserRateLimit(
            app,
            buckets=self._buckets,
            policies=self._policies,
            empty=self._empty,
            recent=self._recent,
            cost_before_running=cost_before_running,
        )
