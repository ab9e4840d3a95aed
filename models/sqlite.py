"""SQLite, the embedded default: one connection per worker process, called in place.

SQLite is a library, not a server: a read by primary key takes microseconds, so statements run
on the event loop's thread instead of hopping to a thread per call (aiosqlite's way), and one
connection serves every request of the process.

A transaction owns that connection until it ends: while one is open, a statement from any other
request waits for it (as long as a PostgreSQL request waits for a pooled connection), so it can
never land inside the transaction and be rolled back with it. With no transaction open, which
is nearly always, a statement runs at once. A statement the transaction's own task sends past
its connection is refused loudly: waiting would never end.

WAL lets other processes read beside the one writer; a writer waits for the lock (the busy
timeout), and this worker waits with it. That is SQLite's single-writer nature; concurrent
writers are what PostgreSQL is for.
"""

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NoReturn

from sqlalchemy.engine import URL

from models.database import Connection, Database, Row
from models.errors import ConstraintViolation, DatabaseUnavailable

BUSY_TIMEOUT_S = 30
# Primary result codes that mean "the database cannot serve now", not "this statement is wrong".
_UNAVAILABLE = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_NOMEM,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_PROTOCOL,
}
# PostgreSQL's `$1` is SQLite's `?1`; quoted text ('...', "...") is left as it is.
_PARAMETER_OR_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\$(\d+)")


def translate(sql: str) -> str:
    """The same statement with SQLite's parameters."""
    return _PARAMETER_OR_QUOTED.sub(
        lambda match: match.group(0) if match.group(1) is None else "?" + match.group(1), sql
    )


def _adapt_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _convert_datetime(raw: bytes) -> datetime:
    text = raw.decode()
    try:
        # Stored values are naive UTC: naming the offset in the text is several times cheaper
        # than replace(tzinfo=...) afterwards, and a list page converts two per row.
        value = datetime.fromisoformat(text + "+00:00")
    except ValueError:  # a value written with an offset of its own
        value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Datetimes are stored as UTC text in the format SQLAlchemy (and so Alembic) writes, so stored
# values compare in time order; columns declared DATETIME or BOOLEAN come back as Python values,
# as asyncpg returns them from PostgreSQL.
sqlite3.register_adapter(datetime, _adapt_datetime)
sqlite3.register_converter("DATETIME", _convert_datetime)
sqlite3.register_converter("BOOLEAN", lambda raw: raw != b"0")


def sqlite_path(url: URL) -> Path:
    if url.database in (None, "", ":memory:"):
        raise ValueError("an in-memory SQLite database is not supported: give a file path")
    return Path(url.database).resolve()


def _raise(exc: sqlite3.Error) -> NoReturn:
    if isinstance(exc, sqlite3.IntegrityError):
        raise ConstraintViolation(str(exc)) from exc
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in _UNAVAILABLE:
        raise DatabaseUnavailable(str(exc)) from exc
    raise exc


class SqliteConnection(Connection):
    dialect = "sqlite"

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw
        self._translated: dict[str, str] = {}

    def _run(self, sql: str, args: tuple[Any, ...]) -> list[Row]:
        text = self._translated.get(sql)
        if text is None:
            text = self._translated[sql] = translate(sql)
        try:
            # fetchall, even for one row: a statement left half-stepped keeps its transaction
            # (and, for a write, the lock) open.
            return self.raw.execute(text, args).fetchall()
        except sqlite3.Error as exc:
            _raise(exc)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return self._run(sql, args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        rows = self._run(sql, args)
        return rows[0] if rows else None

    async def execute(self, sql: str, *args: Any) -> None:
        self._run(sql, args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        if self.raw.in_transaction:
            raise RuntimeError("a transaction is already open on this connection")
        # IMMEDIATE takes the write lock now (waiting up to the busy timeout), so a transaction
        # that reads before it writes cannot fail half-way for want of the lock.
        self._run("BEGIN IMMEDIATE", ())
        try:
            yield
        except BaseException:
            self._run("ROLLBACK", ())
            raise
        self._run("COMMIT", ())


class SqliteDatabase(Database):
    dialect = "sqlite"

    def __init__(
        self,
        url: URL,
        *,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        wait_timeout: float = 5,
    ) -> None:
        self.url = url
        self.path = sqlite_path(url)
        self.synchronous = synchronous
        self.wait_timeout = wait_timeout
        self._connection: SqliteConnection | None = None
        self._turn = asyncio.Lock()
        self._holder: asyncio.Task[Any] | None = None

    def _open(self) -> SqliteConnection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            raw = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,  # autocommit; transactions are explicit
                detect_types=sqlite3.PARSE_DECLTYPES,
                # The event loop's thread uses it; a test client may run that loop in a thread
                # other than the one that opened it.
                check_same_thread=False,
            )
            # WAL: readers beside the writer. synchronous=FULL syncs the log at every commit,
            # so an acknowledged write survives a power loss; NORMAL only a process crash.
            # Foreign keys are off unless asked for.
            raw.execute("PRAGMA journal_mode=WAL")
            raw.execute(f"PRAGMA synchronous={self.synchronous}")
            raw.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            _raise(exc)
        return SqliteConnection(raw)

    def _shared(self) -> SqliteConnection:
        if self._connection is None:
            self._connection = self._open()
        return self._connection

    async def _wait_for_turn(self) -> None:
        if self._holder is not None and self._holder is asyncio.current_task():
            raise RuntimeError(
                "a statement outside the transaction this task holds open: run it on the "
                "transaction's connection"
            )
        try:
            async with asyncio.timeout(self.wait_timeout):
                await self._turn.acquire()
        except TimeoutError:
            raise DatabaseUnavailable(
                "SQLite: a transaction held the connection too long"
            ) from None

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        await self._wait_for_turn()
        self._holder = asyncio.current_task()
        try:
            yield self._shared()
        finally:
            self._holder = None
            self._turn.release()

    async def _run(self, sql: str, args: tuple[Any, ...]) -> list[Row]:
        if not self._turn.locked():  # nearly always: nothing to wait for, nothing to join
            return self._shared()._run(sql, args)
        await self._wait_for_turn()
        try:
            return self._shared()._run(sql, args)
        finally:
            self._turn.release()

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return await self._run(sql, args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        rows = await self._run(sql, args)
        return rows[0] if rows else None

    async def execute(self, sql: str, *args: Any) -> None:
        await self._run(sql, args)

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.raw.close()
            self._connection = None
