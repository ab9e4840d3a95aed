"""Throttles for the routes that do work on a stranger's behalf (OWASP ASVS V2.2).

Every limit is counted *before* the work it guards, in one atomic step with its check, so a
burst of parallel requests cannot all slip past one read of a counter. Counters live in Redis
when `REDIS_URL` is set, so every worker and host counts together, and in process memory
otherwise. If Redis stops answering, counting falls back to this process (with a warning) for
a few seconds at a time: logins keep working, never a 500.
"""

import hashlib
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import anyio
from fastapi import Request
from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, MovingWindowSupport, RedisStorage

from api.config import LimitSettings

logger = logging.getLogger("stockroom.throttling")

T = TypeVar("T")
REDIS_TIMEOUT_S = 0.5
# After a Redis failure, don't pay its timeout on every request: retry it after this long.
REDIS_RETRY_AFTER_S = 5.0
# Right guesses remembered per key and window; far above any limit, so a real crowd behind one
# address is never cut short of the guesses it got right.
RIGHT_GUESSES_KEPT = 100_000


class Throttled(Exception):
    """A limit is spent: the client should come back after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"throttled for {retry_after} s")
        self.retry_after = retry_after


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def account_key(email: str) -> str:
    """For a normalised address (`schemas.normalise_email`). Unknown and real accounts are keyed
    alike, so a 429 says nothing about existence; hashed, so the shared store holds no e-mail
    addresses."""
    return "account:" + _digest(email)


def recipient_key(email: str) -> str:
    """Mail sent to an address, whichever account asked for it."""
    return "recipient:" + _digest(email)


def user_key(user_id: int) -> str:
    """An account by its id: what it asks for, whatever its address is now."""
    return f"user:{user_id}"


def address_key(request: Request) -> str:
    # `request.client` is the socket peer, or what a proxy listed in uvicorn's
    # --forwarded-allow-ips put in X-Forwarded-For; a header from anyone else is ignored.
    return "address:" + (request.client.host if request.client else "unknown")


Rule = tuple[RateLimitItem, str]


def password_rules(limits: LimitSettings, *, address: str, email: str) -> tuple[Rule, Rule]:
    """Every check of an account's password (a login, a current password confirming a change)
    draws on one budget: a stolen access token is no better an oracle than the login form.
    The address first: a throttled address costs the account it aims at nothing."""
    return (
        (limits.LOGIN_FAILURE_LIMIT_PER_ADDRESS, address),
        (limits.LOGIN_FAILURE_LIMIT_PER_ACCOUNT, account_key(email)),
    )


class Throttle:
    """Moving windows (limits' `acquire_entry`), keyed by the limit and what it counts."""

    def __init__(self, limits: LimitSettings) -> None:
        self.limits = limits
        redis_url = limits.REDIS_URL
        self._local = MemoryStorage()
        self._shared: RedisStorage | None = None
        self._shared_down_until = 0.0
        if redis_url:
            self._shared = RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                wrap_exceptions=True,
                socket_timeout=REDIS_TIMEOUT_S,
                socket_connect_timeout=REDIS_TIMEOUT_S,
            )

    async def _run(self, operation: Callable[[MovingWindowSupport], Awaitable[T]]) -> T:
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

    async def take(self, *rules: Rule) -> None:
        """Count one request against each rule, or raise `Throttled` if any is spent."""
        await self._count_in([(limit, limit.key_for(key), limit.amount) for limit, key in rules])

    @asynccontextmanager
    async def guess(self, *rules: Rule) -> AsyncIterator[None]:
        """A check of a secret (a password, a code) in the block, counted before it runs: at most
        the limit's number of wrong guesses are ever checked in a window, however many arrive
        at once. A block that raises (a wrong guess above all) keeps its count. One that
        succeeds is remembered as a right guess, and each right guess in the window raises the
        allowance by one: that gives its count back, so knowing the password never locks a
        user out."""
        windows = []
        for limit, key in rules:
            # Reading the right guesses, then counting the try, can only be stricter than one
            # atomic step: a right guess that lands in between is not yet allowed for.
            right = await self._entries(limit.key_for(key, "right"), RIGHT_GUESSES_KEPT, limit)
            windows.append((limit, limit.key_for(key, "tried"), limit.amount + right[1]))
        await self._count_in(windows)
        yield
        for limit, key in rules:
            await self._acquire(limit.key_for(key, "right"), RIGHT_GUESSES_KEPT, limit)

    async def _count_in(self, windows: list[tuple[RateLimitItem, str, int]]) -> None:
        """One entry in each (limit, key, allowance) window. A request refused by one costs the
        others nothing, short of a race between the look and the count, which only counts
        more; the count itself is atomic with its check."""
        waits = []
        for limit, key, allowance in windows:
            oldest, entries = await self._entries(key, allowance, limit)
            if entries >= allowance:
                waits.append(_seconds_until(oldest + limit.get_expiry()))
        if waits:
            raise Throttled(max(waits))
        for limit, key, allowance in windows:
            if not await self._acquire(key, allowance, limit):
                oldest, _ = await self._entries(key, allowance, limit)
                raise Throttled(_seconds_until(oldest + limit.get_expiry()))

    async def _acquire(self, key: str, allowance: int, limit: RateLimitItem) -> bool:
        return await self._run(
            lambda storage: storage.acquire_entry(key, allowance, limit.get_expiry())
        )

    async def _entries(self, key: str, allowance: int, limit: RateLimitItem) -> tuple[float, int]:
        """(when the oldest entry still in the window was made, how many there are)."""
        return await self._run(
            lambda storage: storage.get_moving_window(key, allowance, limit.get_expiry())
        )


def _seconds_until(moment: float) -> int:
    return max(1, math.ceil(moment - time.time()))
