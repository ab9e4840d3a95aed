"""The database handle, its connections, and the lock that serialises schema changes.

Both engines offer `connect()` (autocommit reads), `begin()` (a transaction) and connections
whose `execute()` runs SQLAlchemy Core statements, so `crud` serves both databases.

PostgreSQL runs on asyncpg directly (`PostgresEngine`): a query waits on the network, so the
event loop serves other requests meanwhile. SQLite is a library, not a server: a primary-key
read takes ~50 µs in place, while an asyncio driver (aiosqlite) hops to a thread per cursor
call and costs ~0.9 ms (measured here). So SQLite runs through SQLAlchemy's plain engine,
called in place by `InlineEngine`. The price: while SQLite waits for another process's write
lock (WAL lets readers through, so only writers wait, and only for a transaction as short as
ours), this worker's event loop waits too. That is SQLite's single-writer nature; more write
concurrency is what PostgreSQL is for.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Concatenate, ParamSpec, TypeVar

import asyncpg
import sqlalchemy
from fastapi import Depends, Request
from sqlalchemy import event, text
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import URL, Dialect, Result, make_url
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

SQLITE_BUSY_TIMEOUT_S = 30
# Any fixed 64-bit number; workers and hosts agree on it to serialise schema changes.
SCHEMA_LOCK_ID = 0x5704_C500

P = ParamSpec("P")
T = TypeVar("T")


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


@dataclass(frozen=True, slots=True)
class _Plan:
    """A Core statement compiled once for a driver: its SQL and how values go in and out.

    Both engines run statements through plans rather than SQLAlchemy's `Connection.execute`:
    measured here, a primary-key read through SQLAlchemy cost 115 µs on SQLite, 34 µs this way
    (same SQL, same type processing, rows still SQLAlchemy `Row`s).
    """

    compiled: SQLCompiler
    sql: str
    binds: tuple[tuple[str, Callable[[Any], Any] | None], ...]
    keys: tuple[str, ...] | None  # None: a text() statement, keys come from the driver
    # (column index, processor) for the columns whose values need converting, and no others
    results: tuple[tuple[int, Callable[[Any], Any]], ...]

    def arguments(self, parameters: Mapping[str, Any] | None) -> list[Any]:
        values = self.compiled.construct_params(parameters) or {}
        return [values[name] if bind is None else bind(values[name]) for name, bind in self.binds]

    def result(self, records: Sequence[Any], keys: Sequence[str]) -> Result[Any]:
        """Rows as SQLAlchemy's, named by `keys` (the statement's columns, or the driver's)."""
        rows: Iterable[Any] = records
        if self.results:
            processed = []
            for record in records:
                row = list(record)
                for column, process in self.results:
                    row[column] = process(row[column])
                processed.append(row)
            rows = processed
        return IteratorResult(SimpleResultMetaData(keys), iter(rows))


# Keyed by the statement object: the hot statements are built once at import, so they compile
# once; statements built per call compile per call and leave with their last reference.
_plans: dict[str, weakref.WeakKeyDictionary[Executable, _Plan]] = {}


def _plan(statement: Executable, dialect: Dialect) -> _Plan:
    plans = _plans.get(dialect.name)
    if plans is None:
        plans = _plans[dialect.name] = weakref.WeakKeyDictionary()
    plan = plans.get(statement)
    if plan is not None:
        return plan
    if not isinstance(statement, ClauseElement):
        raise TypeError(f"cannot run {type(statement).__name__}")
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    binds = tuple(
        (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
        for name in compiled.positiontup or ()
    )
    columns = getattr(statement, "exported_columns", None)
    keys = None
    results: tuple[tuple[int, Callable[[Any], Any]], ...] = ()
    if columns is not None:
        keys = tuple(column.key for column in columns)
        processors = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )
        results = tuple((i, p) for i, p in enumerate(processors) if p is not None)
    plan = _Plan(compiled, compiled.string, binds, keys, results)
    plans[statement] = plan
    return plan


class InlineConnection:
    """A blocking SQLAlchemy connection behind `AsyncConnection`'s awaitable methods.

    SQLAlchemy owns the pool and the transaction; statements run on its pysqlite connection.
    """

    def __init__(self, connection: sqlalchemy.Connection) -> None:
        self.sync_connection = connection
        self.dialect = connection.dialect

    async def execute(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> Result[Any]:
        plan = _plan(statement, self.dialect)
        arguments = plan.arguments(parameters)
        raw = self.sync_connection.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        try:
            cursor = raw.execute(plan.sql, arguments)
            rows = cursor.fetchall()
        except sqlite3.Error as exc:
            # As SQLAlchemy would raise it: IntegrityError, OperationalError ("locked"), ...
            raise DBAPIError.instance(plan.sql, arguments, exc, sqlite3.Error) from exc
        return plan.result(rows, plan.keys or [column[0] for column in cursor.description or ()])

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

    def admin(self) -> AbstractAsyncContextManager[InlineConnection]:
        return self.begin()

    async def dispose(self) -> None:
        self.sync_engine.dispose()


_DRIVER_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
_PG_DIALECT = PGDialect_asyncpg()  # type: ignore[no-untyped-call]
# asyncpg's errors for "the server is unreachable, restarting, or out of connections".
_OUTAGES = (
    OSError,
    asyncpg.InterfaceError,  # includes "connection was closed in the middle of operation"
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.InsufficientResourcesError,  # 53: too many connections
    asyncpg.OperatorInterventionError,  # 57: shutting down, starting up
)


def _as_sqlalchemy_error(exc: Exception) -> Exception:
    """asyncpg's error as SQLAlchemy's, which the API maps to 409/503 as it does SQLite's."""
    if isinstance(exc, TimeoutError):  # no pooled connection free, or connecting took too long
        return SQLAlchemyTimeoutError(str(exc) or "timed out waiting for PostgreSQL")
    if isinstance(exc, _OUTAGES):
        return OperationalError(None, None, exc, connection_invalidated=True)
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return IntegrityError(None, None, exc)
    if isinstance(exc, asyncpg.DataError):
        return DataError(None, None, exc)
    return DBAPIError(None, None, exc)


class PostgresConnection:
    """A pooled asyncpg connection that runs SQLAlchemy Core statements.

    SQLAlchemy's asyncio engine adds a greenlet hop and its own pool on top of the driver;
    measured here, that doubled the cost of a primary-key read. Statements are still built
    with Core (one crud module for both databases) and compiled by SQLAlchemy's asyncpg
    dialect, once per statement object; rows come back as SQLAlchemy `Row`s.
    """

    def __init__(self, raw: asyncpg.Connection) -> None:
        self.raw = raw

    async def execute(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> Result[Any]:
        plan = _plan(statement, _PG_DIALECT)
        try:
            records = await self.raw.fetch(plan.sql, *plan.arguments(parameters))
        except _DRIVER_ERRORS as exc:
            raise _as_sqlalchemy_error(exc) from exc
        return plan.result(records, plan.keys or (list(records[0].keys()) if records else []))


class ConnectionPool:
    """Open asyncpg connections, handed out first come, first served.

    asyncpg's own pool costs ~10 % of a primary-key GET here (a task per release, a timer per
    acquire and release) and lets a newcomer take a connection freed for a waiter, who then
    queues again at the back: under load some requests waited many times longer than others.
    Here a connection is taken or returned without a task or a timer, and a freed one goes to
    the longest waiter.
    """

    def __init__(self, dsn: str, *, max_size: int, timeout: float, connect_timeout: float) -> None:
        self.dsn = dsn
        self.max_size = max_size
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._idle: list[asyncpg.Connection] = []
        self._waiters: deque[asyncio.Future[asyncpg.Connection | None]] = deque()
        self._open = 0  # connections open or being opened

    async def acquire(self) -> asyncpg.Connection:
        while self._idle:
            conn = self._idle.pop()  # the most recently used: the rest may time out idle
            if not conn.is_closed():  # the server closed it (restart, idle timeout)
                return conn
            self._open -= 1
        if self._open >= self.max_size:
            handed = await self._wait()
            if handed is not None:
                return handed
        return await self._connect()

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

    async def _connect(self) -> asyncpg.Connection:
        self._open += 1
        try:
            return await asyncpg.connect(
                self.dsn,
                timeout=self.connect_timeout,
                # Which process holds a connection, for operators reading pg_stat_activity.
                server_settings={"application_name": f"stockroom-{os.getpid()}"},
            )
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


class PostgresEngine:
    """A pool of asyncpg connections for requests; SQLAlchemy's engine only for schema work."""

    dialect = _PG_DIALECT

    def __init__(
        self, url: URL, *, pool_size: int, pool_timeout: float, connect_timeout: float
    ) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self.pool = ConnectionPool(
            url.set(drivername="postgresql").render_as_string(hide_password=False),
            max_size=pool_size,
            timeout=pool_timeout,
            connect_timeout=connect_timeout,
        )

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[PostgresConnection]:
        """A connection in autocommit mode: each statement is its own transaction."""
        try:
            raw = await self.pool.acquire()
        except _DRIVER_ERRORS as exc:
            raise _as_sqlalchemy_error(exc) from exc
        reusable = False
        try:
            yield PostgresConnection(raw)
            reusable = True
        except _DRIVER_ERRORS as exc:  # from BEGIN or COMMIT
            raise _as_sqlalchemy_error(exc) from exc
        except Exception as exc:
            # An error in the caller's code or a statement PostgreSQL refused leaves the
            # connection usable; an outage does not.
            reusable = not isinstance(exc, OperationalError | SQLAlchemyTimeoutError)
            raise
        finally:
            # Cancelled mid-query, the connection may still owe us a reply: never reuse it.
            self.pool.release(raw, reusable=reusable)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[PostgresConnection]:
        """A transaction, committed when the block ends and rolled back if it raises."""
        async with self.connect() as conn, conn.raw.transaction():
            yield conn

    @asynccontextmanager
    async def admin(self) -> AsyncIterator[AsyncConnection]:
        """A SQLAlchemy connection in a transaction, for Alembic (which needs `run_sync`)."""
        engine = create_async_engine(
            self.url, poolclass=NullPool, connect_args={"timeout": self.connect_timeout}
        )
        try:
            async with engine.begin() as conn:
                yield conn
        finally:
            await engine.dispose()

    async def dispose(self) -> None:
        await self.pool.close()


Database = PostgresEngine | InlineEngine
Connection = PostgresConnection | InlineConnection
AdminConnection = AsyncConnection | InlineConnection


def sqlalchemy_url(database_url: str) -> URL:
    """Accept `sqlite:///x.db` or `postgresql://...` as people write them; pick the drivers."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return url.set(drivername="sqlite")
    if url.get_backend_name() == "postgresql":
        return url.set(drivername="postgresql+asyncpg")
    raise ValueError(f"unsupported database {url.get_backend_name()!r}: use sqlite or postgresql")


def create_engine(
    database_url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout: float = 10,
    connect_timeout: float = 5,
) -> Database:
    url = sqlalchemy_url(database_url)
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
    # No health check at checkout (a round trip each): connections the server closed are
    # seen as closed and replaced; a request that meets one broken some other way answers 503
    # and the connection is dropped.
    return PostgresEngine(
        url,
        pool_size=pool_size + max_overflow,
        pool_timeout=pool_timeout,
        connect_timeout=connect_timeout,
    )


@asynccontextmanager
async def schema_lock(engine: Database) -> AsyncIterator[AdminConnection]:
    """Hold a lock every worker and host respects while the schema is created or migrated."""
    path = sqlite_path(engine.url)
    if path is not None:
        lock_path = path.with_name(path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            async with engine.admin() as conn:
                yield conn
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return
    async with engine.admin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": SCHEMA_LOCK_ID})
        yield conn


async def get_engine(request: Request) -> Database:
    engine: Database = request.app.state.engine
    return engine


# Routes and the auth layer open connections from it for as long as a statement or a
# transaction needs one, never across a password hash or a response being sent.
EngineDep = Annotated[Database, Depends(get_engine)]
