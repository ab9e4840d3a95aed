"""SQLite, the embedded default: one connection per worker process, called in place.

SQLite is a library, not a server: a read by primary key takes microseconds, so statements run
on the event loop's thread instead of hopping to a thread per call (aiosqlite's way), and one
connection serves every request of the process. What keeps that safe is the rule every
transaction follows anyway: it holds statements only, never an await on anything else, so no
other request's statement can land inside it. A second BEGIN on the connection is refused
loudly rather than nested.

WAL lets other processes read beside the one writer; a writer waits for the lock (the busy
timeout), and this worker waits with it. That is SQLite's single-writer nature; concurrent
writers are what PostgreSQL is for.
"""

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
_PARAMETER = re.compile(r"\$(\d+)")


def _adapt_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _convert_datetime(raw: bytes) -> datetime:
    value = datetime.fromisoformat(raw.decode())
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
        if text is None:  # `$1` is PostgreSQL's spelling of SQLite's `?1`
            text = self._translated[sql] = _PARAMETER.sub(r"?\1", sql)
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
            raise RuntimeError(
                "a transaction is already open on this worker's SQLite connection: a "
                "transaction must hold statements only, never await anything else"
            )
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
    def __init__(self, url: URL, *, synchronous: Literal["FULL", "NORMAL"] = "FULL") -> None:
        self.url = url
        self.path = sqlite_path(url)
        self.synchronous = synchronous
        self._connection: SqliteConnection | None = None

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

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        yield self._shared()

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return await self._shared().fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        return await self._shared().fetchrow(sql, *args)

    async def execute(self, sql: str, *args: Any) -> None:
        await self._shared().execute(sql, *args)

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.raw.close()
            self._connection = None
