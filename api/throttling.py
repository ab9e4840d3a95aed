"""Throttles for the token and registration endpoints (OWASP ASVS V2.2).

Counters live in Redis when `REDIS_URL` is set, so every worker and host counts together, and
in process memory otherwise. If Redis stops answering, counting falls back to this process
(with a warning) for a few seconds at a time: logins keep working, never a 500.
"""

import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

import anyio
from fastapi import Depends, HTTPException, Request, status
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from models.deps import provided

logger = logging.getLogger("stockroom.throttling")

T = TypeVar("T")
REDIS_TIMEOUT_S = 0.5
# After a Redis failure, don't pay its timeout on every request: retry it after this long.
REDIS_RETRY_AFTER_S = 5.0


@dataclass(frozen=True, slots=True)
class ThrottleLimits:
    login_failures_per_account: RateLimitItem
    login_failures_per_address: RateLimitItem
    registrations_per_address: RateLimitItem
    refreshes_per_address: RateLimitItem
    resets_per_account: RateLimitItem
    resets_per_address: RateLimitItem
    verification_mails_per_account: RateLimitItem

    @classmethod
    def parse(cls, **limits: str) -> "ThrottleLimits":
        """From rate limits written like '10/15 minutes', by field name."""
        return cls(**{name: parse(value) for name, value in limits.items()})


def too_many_requests(wait: int) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        detail=f"Too many requests of this kind from here; try again in {wait} seconds.",
        headers={"Retry-After": str(wait)},
    )


def account_key(email: str) -> str:
    """For a normalised address (`schemas.normalise_email`). Unknown and real accounts are keyed
    alike, so a 429 says nothing about existence; hashed, so the shared store holds no e-mail
    addresses."""
    return "account:" + hashlib.sha256(email.encode()).hexdigest()[:32]


def address_key(request: Request) -> str:
    # `request.client` is the socket peer, or what a proxy listed in uvicorn's
    # --forwarded-allow-ips put in X-Forwarded-For; a header from anyone else is ignored.
    return "address:" + (request.client.host if request.client else "unknown")


class Throttle:
    def __init__(self, limits: ThrottleLimits, redis_url: str | None = None) -> None:
        self.limits = limits
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._shared: MovingWindowRateLimiter | None = None
        self._shared_down_until = 0.0
        if redis_url:
            storage = RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                wrap_exceptions=True,
                socket_timeout=REDIS_TIMEOUT_S,
                socket_connect_timeout=REDIS_TIMEOUT_S,
            )
            self._shared = MovingWindowRateLimiter(storage)

    async def _run(self, operation: Callable[[MovingWindowRateLimiter], Awaitable[T]]) -> T:
        if self._shared is not None and time.monotonic() >= self._shared_down_until:
            try:
                with anyio.fail_after(2 * REDIS_TIMEOUT_S):
                    return await operation(self._shared)
            except Exception as exc:  # any storage failure degrades, none becomes a 500
                self._shared_down_until = time.monotonic() + REDIS_RETRY_AFTER_S
                logger.warning(
                    "Redis unreachable (%s): throttling counts per process for now",
                    type(exc).__name__,
                )
        return await operation(self._local)

    async def retry_after(self, limit: RateLimitItem, *keys: str) -> int | None:
        """Seconds to wait if any of `keys` is over `limit`, else None. Counts nothing."""

        async def check(limiter: MovingWindowRateLimiter) -> int | None:
            waits = []
            for key in keys:
                if not await limiter.test(limit, key):
                    stats = await limiter.get_window_stats(limit, key)
                    waits.append(max(1, math.ceil(stats.reset_time - time.time())))
            return max(waits) if waits else None

        return await self._run(check)

    async def admit(self, *rules: tuple[RateLimitItem, str]) -> None:
        """Count one request against each (limit, key); raise a 429 first if any is spent."""
        waits = [await self.retry_after(limit, key) or 0 for limit, key in rules]
        if max(waits, default=0):
            raise too_many_requests(max(waits))
        for limit, key in rules:
            await self.hit(limit, key)

    async def hit(self, limit: RateLimitItem, *keys: str) -> None:
        async def count(limiter: MovingWindowRateLimiter) -> None:
            for key in keys:
                await limiter.hit(limit, key)

        await self._run(count)


async def get_throttle(request: Request) -> Throttle:
    return provided(request.app, Throttle)


ThrottleDep = Annotated[Throttle, Depends(get_throttle)]
