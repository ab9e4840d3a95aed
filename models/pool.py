"""The PostgreSQL connection pool: open asyncpg connections, handed out first come, first served.

Why not asyncpg's own pool: under 32 concurrent requests it let a newcomer take a connection
freed for a waiter, who then queued again at the back (some requests waited many times longer
than others), and it spends a task per release and a timer per acquire. The figures are in
bench/README.md. Here a connection is taken or returned without a task or a timer, and a freed
one goes to the longest waiter.
"""

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

import asyncpg

Connect = Callable[[], Awaitable[asyncpg.Connection]]


class ConnectionPool:
    def __init__(self, connect: Connect, *, max_size: int, timeout: float) -> None:
        self._connect = connect
        self.max_size = max_size
        self.timeout = timeout
        self._idle: list[asyncpg.Connection] = []
        self._waiters: deque[asyncio.Future[asyncpg.Connection | None]] = deque()
        self._open = 0  # connections open or being opened

    @property
    def waiting(self) -> int:
        return sum(not waiter.done() for waiter in self._waiters)

    async def acquire(self) -> asyncpg.Connection:
        """A connection; TimeoutError if none was free within `timeout`."""
        while self._idle:
            conn = self._idle.pop()  # the most recently used: the rest may time out idle
            if not conn.is_closed():  # the server closed it (restart, idle timeout)
                return conn
            self._open -= 1
        if self._open >= self.max_size:
            handed = await self._wait()
            if handed is not None:
                return handed
        return await self._open_one()

    def release(self, conn: asyncpg.Connection, *, reusable: bool = True) -> None:
        if reusable and not conn.is_closed() and not conn.is_in_transaction():
            self._hand_over(conn)
            return
        conn.terminate()
        self._open -= 1
        self._hand_over(None)  # a waiter may open a connection in its place

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        self._open -= len(idle)
        for conn in idle:
            conn.terminate()

    async def _wait(self) -> asyncpg.Connection | None:
        """A connection someone released, or None: open one yourself."""
        waiter: asyncio.Future[asyncpg.Connection | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.timeout):
                return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._hand_over(waiter.result())  # handed to us as we gave up: pass it on
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    async def _open_one(self) -> asyncpg.Connection:
        self._open += 1
        try:
            return await self._connect()
        except BaseException:
            self._open -= 1
            self._hand_over(None)
            raise

    def _hand_over(self, conn: asyncpg.Connection | None) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        if conn is not None:
            self._idle.append(conn)
