"""One definition per column: the table. A row type that names a column the table lacks, or
holds it as another type, fails where it is declared; every statement the repositories send is
prepared against the migrated schema of the pass's database, so a column list that names
something the schema does not have fails here."""

import importlib
import re
from datetime import datetime
from pathlib import Path

import pytest

from migrations import upgrade_to_head
from models.connect import open_database
from models.database import row_of
from models.postgres import PostgresDatabase
from models.sqlite import SqliteDatabase, translate
from models.tables import ProductTable
from tests.databases import fresh_database_url
from tests.helpers import run_async

REPOSITORIES = (
    "users",
    "sessions",
    "products",
    "email_tokens",
    "access_tokens",
    "outbox",
    "idempotency",
)
SQL_STARTS = ("SELECT ", "INSERT ", "UPDATE ", "DELETE ", "WITH ")


def test_a_row_type_naming_a_column_the_table_lacks_fails_where_it_is_declared() -> None:
    with pytest.raises(TypeError, match="no such column"):

        @row_of(ProductTable)
        class Misnamed:
            id: int
            title: str


def test_a_row_type_holding_a_column_as_another_type_fails_where_it_is_declared() -> None:
    with pytest.raises(TypeError, match="price_cents"):

        @row_of(ProductTable)
        class Mistyped:
            id: int
            price_cents: str


def test_a_row_type_dropping_a_columns_null_fails_where_it_is_declared() -> None:
    with pytest.raises(TypeError, match="description"):

        @row_of(ProductTable)
        class NotNullable:
            description: str


def test_a_row_type_may_read_a_subset_of_the_columns() -> None:
    @row_of(ProductTable)
    class Listing:
        id: int
        updated_at: datetime

    assert Listing(id=1, updated_at=datetime(2026, 1, 1)).id == 1


def statements() -> list[tuple[str, str]]:
    """Every SQL text a repository module keeps at module level: (where, sql)."""
    found = []
    for name in REPOSITORIES:
        module = importlib.import_module(f"models.{name}")
        for attribute, value in vars(module).items():
            texts = value.values() if isinstance(value, dict) else [value]
            for text in texts:
                if isinstance(text, str) and text.startswith(SQL_STARTS) and "{" not in text:
                    numbers = {int(n) for n in re.findall(r"\$(\d+)", text)}
                    if numbers == set(range(1, len(numbers) + 1)):  # else part of a statement
                        found.append((f"models.{name}.{attribute}", text))
    return found


def test_every_repository_statement_is_found() -> None:
    assert len(statements()) > 40


def test_every_repository_statement_prepares_against_the_schema(tmp_path: Path) -> None:
    url = fresh_database_url(tmp_path)

    async def prepare_all() -> list[str]:
        await upgrade_to_head(url)
        database = open_database(url)
        failures = []
        try:
            async with database.connection() as conn:
                for where, sql in statements():
                    if isinstance(database, SqliteDatabase):
                        if "FOR UPDATE" in sql:
                            continue  # PostgreSQL's row locks: sent on PostgreSQL only
                        text = translate(sql)
                        unbound = (None,) * max(map(int, re.findall(r"\?(\d+)", text)), default=0)
                        try:
                            conn.raw.execute("EXPLAIN " + text, unbound)  # type: ignore[attr-defined]
                        except Exception as exc:
                            failures.append(f"{where}: {exc}")
                    else:
                        assert isinstance(database, PostgresDatabase)
                        try:
                            await conn.raw.prepare(sql)  # type: ignore[attr-defined]
                        except Exception as exc:
                            failures.append(f"{where}: {exc}")
        finally:
            await database.close()
        return failures

    assert run_async(prepare_all()) == []
