"""One behaviour behind `Database` on both backends: a transaction owns its connection, so a
statement from another request never lands inside it and never shares its rollback."""

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from migrations import upgrade_to_head
from models import users
from models.connect import open_database
from models.database import Database, DatabaseOptions
from models.errors import DatabaseUnavailable
from models.sqlite import translate
from tests.databases import fresh_database_url
from tests.helpers import run_async


class Abandoned(Exception):
    """What makes the transaction below roll back."""


def with_database(
    tmp_path: Path,
    check: Callable[[Database], Awaitable[None]],
    options: DatabaseOptions | None = None,
) -> None:
    url = fresh_database_url(tmp_path)

    async def run() -> None:
        await upgrade_to_head(url)
        database = open_database(url, options)
        try:
            await check(database)
        finally:
            await database.close()

    run_async(run())


def test_a_write_outside_a_transaction_survives_that_transactions_rollback(
    tmp_path: Path,
) -> None:
    async def check(db: Database) -> None:
        opened = asyncio.Event()
        written = asyncio.Event()

        async def abandoned_transaction() -> None:
            async with db.transaction() as conn:
                await users.create(conn, email="a@example.com", hashed_password="x")
                opened.set()
                # Waits on something else while open: another request's turn comes.
                await asyncio.wait({asyncio.ensure_future(written.wait())}, timeout=0.2)
                raise Abandoned

        async def acknowledged_write() -> None:
            await opened.wait()
            await users.create(db, email="b@example.com", hashed_password="x")
            written.set()

        outcomes = await asyncio.gather(
            abandoned_transaction(), acknowledged_write(), return_exceptions=True
        )
        assert isinstance(outcomes[0], Abandoned) and outcomes[1] is None
        assert await users.get_by_email(db, "b@example.com") is not None
        assert await users.get_by_email(db, "a@example.com") is None

    with_database(tmp_path, check)


def test_a_statement_waits_for_an_open_transaction_at_most_the_pool_timeout(
    tmp_path: Path,
) -> None:
    async def check(db: Database) -> None:
        opened = asyncio.Event()

        async def slow_transaction() -> None:
            async with db.transaction() as conn:
                await users.create(conn, email="a@example.com", hashed_password="x")
                opened.set()
                await asyncio.sleep(1.5)

        async def read() -> float:
            await opened.wait()
            started = asyncio.get_running_loop().time()
            with pytest.raises(DatabaseUnavailable):
                await users.get_by_email(db, "a@example.com")
            return asyncio.get_running_loop().time() - started

        _, waited = await asyncio.gather(slow_transaction(), read())
        assert waited < 1.2

    # One pooled connection on PostgreSQL; SQLite has one anyway. Either way the read waits.
    with_database(tmp_path, check, DatabaseOptions(pool_size=1, pool_timeout=0.5))


def test_a_statement_past_the_transaction_its_own_task_holds_never_joins_it(
    tmp_path: Path,
) -> None:
    """SQLite refuses it at once (it would wait for itself); PostgreSQL runs it on a connection
    of its own, outside the transaction."""

    async def check(db: Database) -> None:
        async with db.transaction() as conn:
            await users.create(conn, email="a@example.com", hashed_password="x")
            if db.url.get_backend_name() == "sqlite":
                with pytest.raises(RuntimeError, match="outside the transaction"):
                    await users.get_by_email(db, "a@example.com")
            else:
                assert await users.get_by_email(db, "a@example.com") is None

    with_database(tmp_path, check)


def test_parameters_inside_quoted_text_are_left_alone() -> None:
    assert translate("SELECT 'costs $2', $1") == "SELECT 'costs $2', ?1"
    assert translate("SELECT 'it''s $1', \"col$2\", $2") == "SELECT 'it''s $1', \"col$2\", ?2"


def test_quoted_dollars_come_back_as_written(tmp_path: Path) -> None:
    async def check(db: Database) -> None:
        row = await db.fetchrow("SELECT 'costs $2', CAST($1 AS TEXT)", "x")
        assert row is not None and tuple(row) == ("costs $2", "x")

    with_database(tmp_path, check)
