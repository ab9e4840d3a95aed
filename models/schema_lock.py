"""The lock every worker and host respects while the schema is created or migrated.

Migrations run through SQLAlchemy (Alembic needs its connections); requests never do.
"""

import asyncio
import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import sqlalchemy
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from models.database import parse_url
from models.sqlite import sqlite_path

T = TypeVar("T")
# Any fixed 64-bit number; workers and hosts agree on it to serialise schema changes.
SCHEMA_LOCK_ID = 0x5704_C500
LOCK_POLL_S = 0.2


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


async def with_schema_lock(
    database_url: str, work: Callable[[sqlalchemy.Connection], T], *, connect_timeout: float = 5
) -> T:
    """Run `work` on a SQLAlchemy connection under the schema lock: a file lock beside a SQLite
    file, a session advisory lock on PostgreSQL. `work` runs its own transactions (what it
    leaves open is committed), and may step outside them: an index built CONCURRENTLY must."""
    url = parse_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock(path.with_name(path.name + ".lock")):
            engine = sqlalchemy.create_engine(url.set(database=str(path)), poolclass=NullPool)
            try:
                with engine.connect() as conn:
                    result = work(conn)
                    conn.commit()
                    return result
            finally:
                engine.dispose()
    async_engine = create_async_engine(
        url.set(drivername="postgresql+asyncpg"),
        poolclass=NullPool,
        connect_args={"timeout": connect_timeout},
    )
    lock = {"id": SCHEMA_LOCK_ID}
    try:
        async with async_engine.connect() as conn:
            # The session's lock outlives the transaction that takes it; a connection that dies
            # lets go of it. Asked for without waiting, and between asks no transaction stays
            # open: an index built CONCURRENTLY by the holder waits for every open transaction,
            # a waiter's included, and the two would deadlock.
            while not (await conn.execute(text("SELECT pg_try_advisory_lock(:id)"), lock)).scalar():
                await conn.commit()
                await asyncio.sleep(LOCK_POLL_S)
            await conn.commit()
            try:
                result = await conn.run_sync(work)
                await conn.commit()
                return result
            finally:
                await conn.rollback()
                await conn.execute(text("SELECT pg_advisory_unlock(:id)"), lock)
                await conn.commit()
    finally:
        await async_engine.dispose()
