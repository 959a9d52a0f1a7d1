"""Token buckets: per worker in memory, or in Redis so that every worker and host shares them.

A bucket holds at most one window's quota and fills back continuously at quota / window.
A charge is let in while the bucket holds a unit and then takes its whole cost, so the
bucket may go into debt: an operation of any cost within the cost limit can run on a
non-empty bucket (a budget smaller than one large query still lets it through), and the
debt is paid back by the refill before the next one is let in. A refused charge takes
nothing. That makes "is this bucket empty?" the only question to ask before a request
runs, so a refusal costs nothing but the question.

`Buckets` asks Redis when one is configured and falls back to this worker's own buckets
while Redis does not answer, asking it again every `REDIS_RETRY_SECONDS`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from graph.observability.metrics import record_redis_failure

logger = logging.getLogger("congress.rate_limits")

# Buckets one worker keeps in memory; a full bucket is the same as none, so dropping the
# least recently used one forgets at most a recent user's partly spent budget.
MAX_LOCAL_BUCKETS = 100_000
# How long one Redis command may take before the worker stops waiting for it and uses its
# own buckets (a rate limit must never be what makes the API slow).
REDIS_TIMEOUT_SECONDS = 0.25
# After a Redis failure, how long the worker keeps to its own buckets before trying again.
REDIS_RETRY_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Policy:
    """A quota: `quota` units per `window_seconds`, the bucket's size and refill."""

    name: str
    quota: int
    window_seconds: int = 60
    # What the quota counts, as the RateLimit-Policy header's `qu` says it; None: requests.
    unit: str | None = None

    @property
    def refill_per_second(self) -> float:
        return self.quota / self.window_seconds


@dataclass(frozen=True, slots=True)
class Charge:
    """What a charge found: whether it was let in, and what the bucket holds after it."""

    policy: Policy
    allowed: bool
    remaining: float

    @property
    def time_until_not_empty(self) -> float:
        """Seconds until the bucket holds a unit again: 0 while it does."""
        return max(0.0, (1 - self.remaining) / self.policy.refill_per_second)

    @property
    def seconds_until_not_empty(self) -> int:
        """When a request would be let in again, in whole seconds (`Retry-After`): 0 while
        the bucket holds a unit, else at least 1."""
        wait = self.time_until_not_empty
        return 0 if wait == 0 else max(1, math.ceil(wait))

    @property
    def seconds_until_full(self) -> int:
        missing = self.policy.quota - self.remaining
        return max(0, math.ceil(missing / self.policy.refill_per_second))


class BucketStore(Protocol):
    async def charge(self, key: str, policy: Policy, cost: int) -> Charge: ...


def refilled(tokens: float, elapsed_seconds: float, policy: Policy) -> float:
    return min(float(policy.quota), tokens + max(0.0, elapsed_seconds) * policy.refill_per_second)


class LocalBuckets:
    """This worker's buckets, in memory."""

    def __init__(self, max_buckets: int = MAX_LOCAL_BUCKETS) -> None:
        self._max = max_buckets
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def charge(self, key: str, policy: Policy, cost: int) -> Charge:
        now = time.monotonic()
        key = f"{policy.name}:{key}"
        tokens, at = self._buckets.pop(key, (float(policy.quota), now))
        tokens = refilled(tokens, now - at, policy)
        allowed = tokens >= 1
        if allowed:
            tokens -= cost
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return Charge(policy, allowed, tokens)


# The same arithmetic as LocalBuckets, done by Redis in one step so that workers charging
# the same bucket at once cannot both spend its last units. Redis's own clock keeps the
# hosts' clocks out of it; the key lasts as long as the bucket takes to fill again.
_CHARGE_SCRIPT = """
local quota = tonumber(ARGV[1])
local per_ms = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = quota
  at = now
end
tokens = math.min(quota, tokens + math.max(0, now - at) * per_ms)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((quota - tokens) / per_ms) + 1000)
return {allowed, tostring(tokens)}
"""


class RedisBuckets:
    """Buckets in Redis, under `key_prefix`, shared by every worker that uses the same one."""

    def __init__(self, url: str, key_prefix: str) -> None:
        self._redis: Redis = Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        self._prefix = key_prefix
        self._script = self._redis.register_script(_CHARGE_SCRIPT)

    async def charge(self, key: str, policy: Policy, cost: int) -> Charge:
        allowed, remaining = await self._script(
            keys=[f"{self._prefix}rate:{policy.name}:{key}"],
            args=[policy.quota, policy.refill_per_second / 1000, cost],
        )
        return Charge(policy, bool(allowed), float(remaining))

    async def answers(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self._redis.aclose()


class Buckets:
    """The buckets a worker charges: Redis's while it answers, else its own.

    After a failure the worker keeps to its own buckets for REDIS_RETRY_SECONDS; then one
    request at a time asks Redis again while the others keep to their own, so a stalled
    Redis costs one request REDIS_TIMEOUT_SECONDS every so often, not every request.
    """

    def __init__(self, redis: RedisBuckets | None, local: LocalBuckets | None = None) -> None:
        self._redis = redis
        self._local = local or LocalBuckets()
        self._redis_answered = True
        self._redis_retry_at = 0.0
        self._probing = False

    @property
    def configured_shared(self) -> bool:
        return self._redis is not None

    @property
    def shared(self) -> bool:
        """Whether charges go to Redis now (False without Redis, or since it last failed)."""
        return self._redis is not None and self._redis_answered

    async def charge(self, key: str, policy: Policy, cost: int) -> Charge:
        redis = self._redis
        if redis is None:
            return await self._local.charge(key, policy, cost)
        probing = False
        if not self._redis_answered:
            if self._probing or time.monotonic() < self._redis_retry_at:
                return await self._local.charge(key, policy, cost)
            probing = self._probing = True
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_SECONDS):
                charge = await redis.charge(key, policy, cost)
        except (RedisError, OSError, TimeoutError):
            self._redis_retry_at = time.monotonic() + REDIS_RETRY_SECONDS
            if self._redis_answered:
                logger.warning(
                    "Redis did not answer; rate limits are per worker until it does",
                    exc_info=True,
                )
            self._redis_answered = False
            record_redis_failure()
            return await self._local.charge(key, policy, cost)
        finally:
            if probing:
                self._probing = False
        if not self._redis_answered:
            logger.warning("Redis answers again; rate limits are shared again")
            self._redis_answered = True
        return charge

    async def redis_answers(self) -> bool:
        return self._redis is not None and await self._redis.answers()

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.close()
