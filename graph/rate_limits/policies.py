"""Which quota applies to whom, and how a response tells it (the IETF draft's headers).

- Each signed-in user spends cost (graph/schema/cost.py) from a bucket of their own, its
  size per minute set by their highest role (CONGRESS_RATE_LIMITS). Every request also
  pays REQUEST_COST for its own work, so a flood of tiny requests empties a bucket too.
- Each client address may fail authentication CONGRESS_FAILED_AUTH_PER_MINUTE times a
  minute; past that, its requests are refused before their token is even read.

The headers follow draft-ietf-httpapi-ratelimit-headers-09, but for the quota unit: `qu`
is "cost", which is none of the units the draft registers (requests, content-bytes,
concurrent-requests), since what a request spends is its cost. `RateLimit-Policy` names the
quota (`"viewer";q=30000;w=60;qu="cost"`), `RateLimit` what is left of it and in how many
seconds it is whole again (`"viewer";r=29531;t=1`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from graph.rate_limits.buckets import Charge, Policy
from models import Role
from permissions.viewer import Viewer

# What every request costs beyond its operation. A request's own work (HTTP, the token,
# the user and their roles read, the answer written) is most of what a small one costs:
# 3,000 `{ __typename }` at 150 a second took 3.1 ms of a worker's CPU each, a dashboard
# (cost 369) about twice that (README, Measured). Charged 10, one user's flood of them
# held half a worker within their quota; at 100, a viewer's quota allows about five a
# second once its minute's worth is spent.
REQUEST_COST = 100
# An export reads a subtree's congresses and writes them as CSV or XLSX: as much as a
# page of a hundred committees with their progress.
EXPORT_COST = 2_000
COST_UNIT = "cost"
FAILED_AUTHENTICATION_POLICY = "failed-authentication"


@dataclass(frozen=True, slots=True)
class RolePolicies:
    """The cost quota of each role; a user is held to the one of their highest role."""

    by_role: Mapping[Role, Policy]

    @classmethod
    def per_minute(cls, quotas: Mapping[str, int]) -> RolePolicies:
        """From CONGRESS_RATE_LIMITS, which Settings has checked names each role once."""
        return cls({role: Policy(role.value, quotas[role.value], unit=COST_UNIT) for role in Role})

    @property
    def unread_user(self) -> Policy:
        """The quota of a request charged before its user was read (it reads no data) and
        whose sign-in this worker has not seen lately: the smallest, a viewer's."""
        return self.by_role[Role.VIEWER]

    def for_viewer(self, viewer: Viewer) -> Policy:
        # A user without any assignment sees nothing; they are held to the smallest quota.
        role = max((grant.role for grant in viewer.grants), key=lambda r: r.rank, default=None)
        return self.by_role[role or Role.VIEWER]


def failed_authentication_policy(per_minute: int) -> Policy:
    return Policy(FAILED_AUTHENTICATION_POLICY, per_minute)


def rate_limit_headers(
    charge: Charge, seconds_until_reset: int | None = None
) -> list[tuple[bytes, bytes]]:
    """`RateLimit-Policy` and `RateLimit` for what `charge` left; `t` is when the bucket is
    full again unless `seconds_until_reset` says otherwise."""
    policy = charge.policy
    described = f'"{policy.name}";q={policy.quota};w={policy.window_seconds}'
    if policy.unit is not None:
        described += f';qu="{policy.unit}"'
    remaining = max(0, math.floor(charge.remaining))
    reset = charge.seconds_until_full if seconds_until_reset is None else seconds_until_reset
    left = f'"{policy.name}";r={remaining};t={reset}'
    return [(b"ratelimit-policy", described.encode()), (b"ratelimit", left.encode())]


def refusal_headers(charge: Charge) -> list[tuple[bytes, bytes]]:
    """The rate-limit headers of a 429, with `Retry-After`; `t` names the same moment (the
    draft: when a request would be let in, not when the bucket is full)."""
    retry_after = charge.seconds_until_not_empty or 1
    return [
        *rate_limit_headers(charge, seconds_until_reset=retry_after),
        (b"retry-after", str(retry_after).encode()),
    ]
