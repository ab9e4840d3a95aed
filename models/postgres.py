"""PostgreSQL on asyncpg: a query waits on the network, so the event loop serves others meanwhile.

SQL goes to asyncpg as written; asyncpg prepares each distinct statement once per connection
and reuses the plan (its statement cache). Every wait is bounded: connecting, waiting for a
pooled connection, and each statement (server-side `statement_timeout`, and the driver's own
timeout a little later for a server that does not answer at all). Driver errors leave here as
the data layer's own: an outage or a timeout is `DatabaseUnavailable` and the connection is
dropped, a broken constraint is `ConstraintViolation`.
"""

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, NoReturn, cast

import asyncpg
from sqlalchemy.engine import URL

from models.database import Connection, Database, DatabaseOptions, Row
from models.errors import ConstraintViolation, DatabaseUnavailable
from models.pool import ConnectionPool

# The server answered, but not with a result: it cancelled the statement at its timeout, or
# turned the connection away (too many connections). The connection is dropped; the server lives.
_REFUSALS = (
    asyncpg.QueryCanceledError,  # 57014: statement_timeout
    asyncpg.InsufficientResourcesError,  # 53: too many connections
)
# No answer at all, or the connection is gone: the server is unreachable or restarting.
_LOST = (
    OSError,
    TimeoutError,  # the driver's own timeout: nothing came back
    asyncpg.InterfaceError,  # includes "connection was closed in the middle of operation"
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.OperatorInterventionError,  # 57: shutting down, starting up
)
_DRIVER_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
# The driver waits this much longer than the server, so a live server's own cancellation
# (the connection is fine, the server is up) normally arrives first.
CLIENT_TIMEOUT_MARGIN_S = 1.0


class PostgresConnection(Connection):
    dialect = "postgresql"

    def __init__(self, raw: asyncpg.Connection, on_lost: Callable[[], None]) -> None:
        self.raw = raw
        self.broken = False
        self._on_lost = on_lost

    def _raise(self, exc: Exception) -> NoReturn:
        if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
            raise ConstraintViolation(str(exc)) from exc
        if isinstance(exc, _REFUSALS):
            self.broken = True
        elif isinstance(exc, _LOST):
            self.broken = True
            self._on_lost()
        else:
            raise exc
        raise DatabaseUnavailable(f"PostgreSQL: {type(exc).__name__}") from exc

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        try:
            rows = await self.raw.fetch(sql, *args)
        except Exception as exc:
            self._raise(exc)
        return cast(list[Row], rows)  # asyncpg's Record: a sequence, typed as its own class

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        try:
            row = await self.raw.fetchrow(sql, *args)
        except Exception as exc:
            self._raise(exc)
        return cast(Row | None, row)

    async def execute(self, sql: str, *args: Any) -> None:
        try:
            await self.raw.execute(sql, *args)
        except Exception as exc:
            self._raise(exc)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        try:
            async with self.raw.transaction():
                yield
        except _DRIVER_ERRORS as exc:  # from BEGIN, COMMIT or ROLLBACK
            self._raise(exc)


class PostgresDatabase(Database):
    dialect = "postgresql"

    def __init__(self, url: URL, options: DatabaseOptions) -> None:
        self.url = url
        self.dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.options = options
        self.pool = ConnectionPool(
            self._connect,
            max_size=options.pool_size,
            timeout=options.pool_timeout,
            max_lifetime=options.max_lifetime,
            max_idle=options.max_idle,
        )

    async def _connect(self) -> asyncpg.Connection:
        statement_ms = str(round(self.options.statement_timeout * 1000))
        return await asyncpg.connect(
            self.dsn,
            timeout=self.options.connect_timeout,
            command_timeout=self.options.statement_timeout + CLIENT_TIMEOUT_MARGIN_S,
            server_settings={
                "statement_timeout": statement_ms,
                # A client that vanished mid-transaction (a partition) must not hold its locks
                # until TCP notices, hours later.
                "idle_in_transaction_session_timeout": statement_ms,
                # Which process holds a connection, for operators reading pg_stat_activity.
                "application_name": f"stockroom-{os.getpid()}",
            },
        )

    def connection(self) -> AbstractAsyncContextManager[Connection]:
        return _Checkout(self.pool)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        async with _Checkout(self.pool) as conn:
            return await conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        async with _Checkout(self.pool) as conn:
            return await conn.fetchrow(sql, *args)

    async def execute(self, sql: str, *args: Any) -> None:
        async with _Checkout(self.pool) as conn:
            await conn.execute(sql, *args)

    async def close(self) -> None:
        await self.pool.close()


class _Checkout:
    """A pooled connection for the length of a block. A class rather than an
    `@asynccontextmanager` generator: every statement goes through it, and the generator cost
    more (bench/README.md)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    async def __aenter__(self) -> PostgresConnection:
        try:
            raw = await self.pool.acquire()
        except (*_LOST, *_REFUSALS) as exc:
            raise DatabaseUnavailable(f"PostgreSQL: {type(exc).__name__}") from exc
        self.conn = PostgresConnection(raw, self.pool.mark_down)
        return self.conn

    async def __aexit__(self, kind: type[BaseException] | None, *_: object) -> None:
        # Broken, or cancelled mid-query (it may still owe us a reply): never reused. A refused
        # statement or an error in the caller's code leaves it usable.
        finished = kind is None or issubclass(kind, Exception)
        self.pool.release(self.conn.raw, reusable=finished and not self.conn.broken)
