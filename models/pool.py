"""The PostgreSQL connection pool: open asyncpg connections, handed out first come, first served.

Why not asyncpg's own pool: under 32 concurrent requests it let a newcomer take a connection
freed for a waiter, who then queued again at the back (some requests waited many times longer
than others); it spends a task per release and a timer per acquire; and it has no maximum
lifetime, nor a way to stop a crowd of requests from each waiting out a server that went
silent. The figures are in bench/README.md.

Waiters queue in arrival order with the same timeout, so their deadlines are in order too: one
timer, at the first waiter's deadline, bounds them all. A timer per wait (`asyncio.timeout`)
cost a list page under 32 connections a few percent of its CPU (bench/README.md).

A connection given back while others wait is kept for the task that gave it back until that
task yields: a request reads its session, then runs its own statement without yielding in
between, and handing the connection to a waiter in that moment would only make it wait for
the next one (under 32 connections every statement waited: bench/README.md). Nobody else can
take it meanwhile, so waiters keep their order.

When the server stops answering (`mark_down`), the pool drops its idle connections and fails
its waiters at once; until a connection opens again, one request at a time tries to open one
(the probe) and the others are refused at once, so a partition costs each request a bounded
wait and no request queues behind another's timeout.
"""

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from models.errors import DatabaseUnavailable

Connect = Callable[[], Awaitable[asyncpg.Connection]]


@dataclass(slots=True)
class _Idle:
    conn: asyncpg.Connection
    since: float


Waiter = asyncio.Future[asyncpg.Connection | None]


class ConnectionPool:
    def __init__(
        self,
        connect: Connect,
        *,
        max_size: int,
        timeout: float,
        max_lifetime: float = float("inf"),
        max_idle: float = float("inf"),
    ) -> None:
        self._connect = connect
        self.max_size = max_size
        self.timeout = timeout
        self.max_lifetime = max_lifetime
        self.max_idle = max_idle
        self._idle: list[_Idle] = []  # the most recently returned last
        self._opened_at: dict[asyncpg.Connection, float] = {}
        self._waiters: deque[tuple[Waiter, float]] = deque()  # and each one's deadline
        self._deadline_timer: asyncio.TimerHandle | None = None
        # A connection given back while others waited, and the task that may take it again
        # before it yields; handed to the first waiter after that (`_pass_kept_on`).
        self._kept: tuple[asyncpg.Connection, asyncio.Task[Any]] | None = None
        self._opening = 0
        self._down = False
        self._probing = False

    @property
    def waiting(self) -> int:
        return sum(not waiter.done() for waiter, _ in self._waiters)

    @property
    def _open(self) -> int:
        return len(self._opened_at) + self._opening

    async def acquire(self) -> asyncpg.Connection:
        """A connection; DatabaseUnavailable if none could be had within `timeout`."""
        if self._down:
            return await self._probe()
        if self._kept is not None and self._kept[1] is asyncio.current_task():
            kept, self._kept = self._kept[0], None
            return kept
        conn = self._take_idle()
        if conn is not None:
            return conn
        if self._open >= self.max_size:
            handed = await self._wait()
            if handed is not None:
                return handed
            if self._down:  # the connection that left made way for a probe
                return await self._probe()
        return await self._open_one()

    def release(self, conn: asyncpg.Connection, *, reusable: bool = True) -> None:
        if (
            reusable
            and not conn.is_closed()
            and not conn.is_in_transaction()
            and not self._too_old(conn, time.monotonic())
        ):
            if self._waiters:
                self._keep_for_caller(conn)
            else:
                self._hand_over(conn)
            return
        self._discard(conn)
        self._hand_over(None)  # a waiter may open a connection in its place

    def _keep_for_caller(self, conn: asyncpg.Connection) -> None:
        task = asyncio.current_task()
        if task is None:  # not given back by a task: nobody to keep it for
            self._hand_over(conn)
            return
        if self._kept is not None:  # a second one in the same step: the first goes on now
            self._hand_over(self._kept[0])
        self._kept = (conn, task)
        asyncio.get_running_loop().call_soon(self._pass_kept_on)

    def _pass_kept_on(self) -> None:
        if self._kept is not None:
            conn, self._kept = self._kept[0], None
            self._hand_over(conn)

    def _discard_kept(self) -> None:
        if self._kept is not None:
            conn, self._kept = self._kept[0], None
            self._discard(conn)

    def mark_down(self) -> None:
        """The server stopped answering: its other connections are suspect, and the requests
        waiting for one would only wait out the same silence."""
        self._down = True
        self._discard_kept()
        idle, self._idle = self._idle, []
        for entry in idle:
            self._discard(entry.conn)
        waiters, self._waiters = self._waiters, deque()
        for waiter, _ in waiters:
            if not waiter.done():
                waiter.set_exception(DatabaseUnavailable("PostgreSQL stopped answering"))

    async def close(self) -> None:
        self._discard_kept()
        idle, self._idle = self._idle, []
        for entry in idle:
            self._discard(entry.conn)

    def _too_old(self, conn: asyncpg.Connection, now: float) -> bool:
        return now - self._opened_at.get(conn, now) >= self.max_lifetime

    def _take_idle(self) -> asyncpg.Connection | None:
        now = time.monotonic()
        while self._idle and now - self._idle[0].since >= self.max_idle:
            self._discard(self._idle.pop(0).conn)  # unused for too long: a firewall may have
        while self._idle:  # forgotten it
            conn = self._idle.pop().conn  # the most recently used: the rest may age out
            if conn.is_closed() or self._too_old(conn, now):  # closed: the server restarted
                self._discard(conn)
                continue
            return conn
        return None

    async def _probe(self) -> asyncpg.Connection:
        if self._probing:
            raise DatabaseUnavailable("PostgreSQL is not answering; another request is trying it")
        self._probing = True
        try:
            conn = await self._open_one()
        finally:
            self._probing = False
        self._down = False
        return conn

    async def _wait(self) -> asyncpg.Connection | None:
        """A connection someone released, or None: open one yourself."""
        loop = asyncio.get_running_loop()
        waiter: Waiter = loop.create_future()
        self._waiters.append((waiter, loop.time() + self.timeout))
        if self._deadline_timer is None:
            self._deadline_timer = loop.call_at(self._waiters[0][1], self._expire)
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._hand_over(waiter.result())  # handed to us as we gave up: pass it on
            raise

    def _expire(self) -> None:
        """Fail the waiters whose time is up; wake again at the next one's deadline."""
        self._deadline_timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._waiters and (self._waiters[0][0].done() or self._waiters[0][1] <= now):
            waiter, _ = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(
                    DatabaseUnavailable("no pooled PostgreSQL connection was free in time")
                )
        if self._waiters:
            self._deadline_timer = loop.call_at(self._waiters[0][1], self._expire)

    async def _open_one(self) -> asyncpg.Connection:
        self._opening += 1
        try:
            conn = await self._connect()
        except Exception:
            self._opening -= 1
            self.mark_down()  # refused, timed out, or turned away: the waiters learn it now
            raise
        except BaseException:
            self._opening -= 1
            self._hand_over(None)
            raise
        self._opening -= 1
        self._opened_at[conn] = time.monotonic()
        return conn

    def _discard(self, conn: asyncpg.Connection) -> None:
        self._opened_at.pop(conn, None)
        conn.terminate()

    def _hand_over(self, conn: asyncpg.Connection | None) -> None:
        while self._waiters:
            waiter, _ = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        if conn is not None:
            self._idle.append(_Idle(conn, time.monotonic()))
