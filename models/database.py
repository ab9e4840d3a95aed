"""What the repositories see of a database: executors that run SQL, and transactions.

Queries are SQL text with PostgreSQL's `$1, $2, ...` parameters; the SQLite side accepts the same
text. Both backends hand rows back as sequences in the order the query names its columns, with
the same Python types (aware UTC datetimes, bools, ints), so a repository builds its typed objects
the same way from either.
"""

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast, dataclass_transform, get_type_hints

from sqlalchemy.engine import URL, make_url

Row = Sequence[Any]
Dialect = Literal["sqlite", "postgresql"]


@dataclass(frozen=True, slots=True)
class DatabaseOptions:
    """Every wait on the database is bounded; the pool settings apply to PostgreSQL."""

    pool_size: int = 10
    pool_timeout: float = 5  # waiting for a pooled connection, opening one included
    connect_timeout: float = 5
    statement_timeout: float = 5
    max_lifetime: float = 1800  # a pooled connection is replaced after this long...
    max_idle: float = 300  # ...or after lying unused this long
    # FULL: a commit survives a power loss. NORMAL: only a process crash (faster writes).
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"


class Executor(ABC):
    """What runs a statement: a `Connection`, or the `Database` itself, which runs each one on a
    connection of its own in autocommit (asyncpg's `Pool.fetch` and its kind work the same way;
    sqlx calls both an executor). Repositories take either: inside `transaction()` their
    statements share one connection, outside it each takes a pooled one for just as long as it
    runs, so no request holds a connection across anything else."""

    # Where the two databases spell one thing differently, a repository picks by this.
    dialect: Dialect

    @abstractmethod
    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...

    @abstractmethod
    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...

    @abstractmethod
    async def execute(self, sql: str, *args: Any) -> None: ...

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else row[0]


class Connection(Executor):
    """One database connection, in autocommit mode until `transaction()` is entered."""

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[None]:
        """Commit when the block ends, roll back if it raises. Hold it for statements only:
        never across a password hash or another service's answer."""


class Database(Executor):
    """Where connections come from: the pool of one worker process."""

    url: URL

    @abstractmethod
    def connection(self) -> AbstractAsyncContextManager[Connection]: ...

    @abstractmethod
    async def close(self) -> None: ...

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A connection inside a transaction, for several writes that stand or fall together."""
        async with self.connection() as conn, conn.transaction():
            yield conn


T = TypeVar("T")


@dataclass_transform()
def row_of(table: type[Any]) -> Callable[[type[T]], type[T]]:
    """A row type: a slotted dataclass of the columns of `table` that the code reads.

    The table is the one definition of a column (its name, type and nullability); a row type
    names the ones it reads, and a name or type that disagrees with the table fails here, at
    import, before anything runs. SELECT lists come from the row type (`columns`), so a row is
    built from a result in the order its own SELECT named the columns. Row types are slotted
    but not frozen: nothing changes a row once it is read, and a frozen one costs more to
    build, on every row of a page (bench/README.md).
    """

    def declare(cls: type[T]) -> type[T]:
        row_type: Any = dataclass(slots=True)(cls)
        hints = get_type_hints(row_type)
        for field in dataclasses.fields(row_type):
            column = table.__table__.columns.get(field.name)
            if column is None:
                raise TypeError(
                    f"{row_type.__name__}.{field.name}: {table.__name__} has no such column"
                )
            expected: Any = column.type.python_type
            if column.nullable:
                expected = expected | None
            if hints[field.name] != expected:
                raise TypeError(
                    f"{row_type.__name__}.{field.name} is {hints[field.name]}, but the column "
                    f"{table.__tablename__}.{field.name} holds {expected}"
                )
        return cast(type[T], row_type)

    return declare


def columns(row_type: type, prefix: str = "") -> str:
    """The SELECT list for a row type: its fields, in order."""
    return ", ".join(prefix + field.name for field in dataclasses.fields(row_type))


def parse_url(database_url: str) -> URL:
    """`sqlite:///x.db` or `postgresql://...` as people write them."""
    url = make_url(database_url)
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(
            f"unsupported database {url.get_backend_name()!r}: use sqlite or postgresql"
        )
    return url
