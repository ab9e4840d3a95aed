"""PostgreSQL on asyncpg: a query waits on the network, so the event loop serves others meanwhile.

SQL goes to asyncpg as written; asyncpg prepares each distinct statement once per connection
and reuses the plan (its statement cache). Driver errors leave here as the data layer's own:
an outage or a timeout is `DatabaseUnavailable` and the connection is dropped, a broken
constraint is `ConstraintViolation`.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, NoReturn, cast

import asyncpg
from sqlalchemy.engine import URL

from models.database import Connection, Database, Row
from models.errors import ConstraintViolation, DatabaseUnavailable
from models.pool import ConnectionPool

# asyncpg's errors for "the server is unreachable, restarting, or out of connections".
_OUTAGES = (
    OSError,
    TimeoutError,  # connecting, or waiting for a pooled connection, took too long
    asyncpg.InterfaceError,  # includes "connection was closed in the middle of operation"
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.InsufficientResourcesError,  # 53: too many connections
    asyncpg.OperatorInterventionError,  # 57: shutting down, starting up
)
_DRIVER_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class PostgresConnection(Connection):
    dialect = "postgresql"

    def __init__(self, raw: asyncpg.Connection) -> None:
        self.raw = raw
        self.broken = False

    def _raise(self, exc: Exception) -> NoReturn:
        if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
            raise ConstraintViolation(str(exc)) from exc
        if isinstance(exc, _OUTAGES):
            self.broken = True
            raise DatabaseUnavailable(f"PostgreSQL: {type(exc).__name__}") from exc
        raise exc

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
    def __init__(
        self, url: URL, *, pool_size: int, pool_timeout: float, connect_timeout: float
    ) -> None:
        self.url = url
        self.dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.connect_timeout = connect_timeout
        self.pool = ConnectionPool(self._connect, max_size=pool_size, timeout=pool_timeout)

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            self.dsn,
            timeout=self.connect_timeout,
            # Which process holds a connection, for operators reading pg_stat_activity.
            server_settings={"application_name": f"stockroom-{os.getpid()}"},
        )

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        try:
            raw = await self.pool.acquire()
        except _OUTAGES as exc:
            raise DatabaseUnavailable(f"PostgreSQL: {type(exc).__name__}") from exc
        conn = PostgresConnection(raw)
        reusable = False
        try:
            yield conn
            reusable = True
        except Exception:
            # A refused statement or an error in the caller's code leaves the connection usable.
            reusable = True
            raise
        finally:
            # Broken, or cancelled mid-query (it may still owe us a reply): never reused.
            self.pool.release(raw, reusable=reusable and not conn.broken)

    async def close(self) -> None:
        await self.pool.close()
