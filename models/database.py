"""The database handle, its connections, and the lock that serialises schema changes.

PostgreSQL (psycopg 3) runs on SQLAlchemy's asyncio engine: a query waits on the network, so
the event loop serves other requests meanwhile. SQLite is a library, not a server: a
primary-key read takes ~50 µs in place, while an asyncio driver (aiosqlite) hops to a thread
per cursor call and costs ~0.9 ms (measured here). So SQLite runs through SQLAlchemy's plain
engine, called in place by `InlineEngine`, which offers the same `connect()`/`begin()`/
`execute()` surface as `AsyncEngine`. The price: while SQLite waits for another process's
write lock (WAL lets readers through, so only writers wait, and only for a transaction as short
as ours), this worker's event loop waits too. That is SQLite's single-writer nature; more
write concurrency is what PostgreSQL is for.
"""

import fcntl
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy
from fastapi import Depends, Request
from sqlalchemy import event, text
from sqlalchemy.engine import URL, CursorResult, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.base import Executable

SQLITE_BUSY_TIMEOUT_S = 30
# Any fixed 64-bit number; workers and hosts agree on it to serialise schema changes.
SCHEMA_LOCK_ID = 0x5704_C500

P = ParamSpec("P")
T = TypeVar("T")


def sync_url(database_url: str) -> URL:
    """Accept `sqlite:///x.db` or `postgresql://...` as people write them; pick the drivers."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return url.set(drivername="sqlite")
    if url.get_backend_name() == "postgresql":
        return url.set(drivername="postgresql+psycopg")  # psycopg 3: sync and async alike
    raise ValueError(f"unsupported database {url.get_backend_name()!r}: use sqlite or postgresql")


def sqlite_path(url: URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).resolve()


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; the busy timeout makes writers queue instead of
    # failing with "database is locked"; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class InlineConnection:
    """A blocking SQLAlchemy connection behind `AsyncConnection`'s awaitable methods."""

    def __init__(self, connection: sqlalchemy.Connection) -> None:
        self.sync_connection = connection

    async def execute(
        self, statement: Executable, parameters: dict[str, Any] | None = None
    ) -> CursorResult[Any]:
        return self.sync_connection.execute(statement, parameters)

    async def commit(self) -> None:
        self.sync_connection.commit()

    async def run_sync(
        self,
        fn: Callable[Concatenate[sqlalchemy.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        return fn(self.sync_connection, *args, **kwargs)


class InlineEngine:
    """A blocking SQLAlchemy engine behind `AsyncEngine`'s `connect()`/`begin()`/`dispose()`."""

    def __init__(self, engine: sqlalchemy.Engine) -> None:
        self.sync_engine = engine
        self.url = engine.url
        self.dialect = engine.dialect

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[InlineConnection]:
        with self.sync_engine.connect() as connection:
            yield InlineConnection(connection)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[InlineConnection]:
        with self.sync_engine.begin() as connection:
            yield InlineConnection(connection)

    async def dispose(self) -> None:
        self.sync_engine.dispose()


class PostgresEngine:
    """Two pools on one PostgreSQL: autocommit connections for reads, transactions for writes.

    A read then costs one round trip: no BEGIN, no ROLLBACK when the connection goes back, and
    no switching of the isolation level at each checkout (which `execution_options` would do).
    """

    def __init__(self, reads: AsyncEngine, writes: AsyncEngine) -> None:
        self.reads = reads
        self.writes = writes
        self.url = writes.url
        self.dialect = writes.dialect

    def connect(self) -> AsyncConnection:
        return self.reads.connect()

    def begin(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return self.writes.begin()

    async def dispose(self) -> None:
        await self.reads.dispose()
        await self.writes.dispose()


Database = PostgresEngine | InlineEngine
Connection = AsyncConnection | InlineConnection


def create_engine(
    database_url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout: float = 10,
    connect_timeout: float = 5,
) -> Database:
    url = sync_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            url = url.set(database=str(path))
        engine = sqlalchemy.create_engine(
            url,
            # Connections never cross threads at the same time; the event loop's thread owns
            # them, but a test client may start the loop in a thread of its own.
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
        )
        event.listen(engine, "connect", _configure_sqlite)
        return InlineEngine(engine)

    # No pre-ping (a round trip per checkout): when a restarted server leaves dead pooled
    # connections behind, the first request to meet one answers 503 and SQLAlchemy discards
    # the whole pool, so the next ones reconnect.
    def pool(**options: Any) -> AsyncEngine:
        return create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            connect_args={"connect_timeout": max(1, int(connect_timeout))},
            **options,
        )

    return PostgresEngine(reads=pool(isolation_level="AUTOCOMMIT"), writes=pool())


@asynccontextmanager
async def schema_lock(engine: Database) -> AsyncIterator[Connection]:
    """Hold a lock every worker and host respects while the schema is created or migrated."""
    path = sqlite_path(engine.url)
    if path is not None:
        lock_path = path.with_name(path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            async with engine.begin() as conn:
                yield conn
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": SCHEMA_LOCK_ID})
        yield conn


async def get_engine(request: Request) -> Database:
    engine: Database = request.app.state.engine
    return engine


# Routes and the auth layer open connections from it for as long as a statement or a
# transaction needs one, never across a password hash or a response being sent.
EngineDep = Annotated[Database, Depends(get_engine)]
