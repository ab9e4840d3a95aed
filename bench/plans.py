"""Query plans and times of product pages for one owner with many products.

    python bench/plans.py [--database sqlite|postgres] [--products 100000]

Seeds a fresh database (PostgreSQL started as the tests start it) with one owner's products
(every tenth named "... lamp ..."), then, for the first page, a page deep in the list after a
cursor, and a search page (`q=lamp`, `sort=-price`), prints the SQL the repository sends, its
plan (PostgreSQL: EXPLAIN ANALYZE; SQLite: EXPLAIN QUERY PLAN) and the median time of 50 runs,
plus the count of all the owner's products (`total`) and of the ones the search matches
(`count=exact`).
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from migrations import upgrade_to_head
from models import products, users
from models.connect import open_database
from models.database import Database, DatabaseOptions, Executor, Row
from models.postgres import PostgresDatabase
from models.products import Filters, Order, search_pattern
from models.sqlite import SqliteDatabase, translate
from models.types import utcnow

RUNS = 50


class Capture(Executor):
    """Runs statements on `db` and keeps the last one, to explain it."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.dialect = db.dialect
        self.last: tuple[str, tuple[Any, ...]] = ("", ())

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        self.last = (sql, args)
        return await self.db.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        self.last = (sql, args)
        return await self.db.fetchrow(sql, *args)

    async def execute(self, sql: str, *args: Any) -> None:
        self.last = (sql, args)
        await self.db.execute(sql, *args)


async def seed(db: Database, count: int) -> int:
    owner = await users.create(db, email="owner@example.com", hashed_password="unused")  # noqa: S106
    now = utcnow()
    rows = [
        (owner.id, f"product {n} {'lamp' if n % 10 == 0 else 'item'}", (n * 7919) % 100_000, None)
        for n in range(count)
    ]
    async with db.connection() as conn:
        if isinstance(db, SqliteDatabase):
            conn.raw.executemany(  # type: ignore[attr-defined]
                "INSERT INTO products (owner_id, name, price_cents, description, created_at, "
                "updated_at, version) VALUES (?, ?, ?, ?, ?, ?, 1)",
                [(*row, now, now) for row in rows],
            )
        else:
            await conn.raw.copy_records_to_table(  # type: ignore[attr-defined]
                "products",
                records=[(*row, now, now, 1) for row in rows],
                columns=[
                    "owner_id",
                    "name",
                    "price_cents",
                    "description",
                    "created_at",
                    "updated_at",
                    "version",
                ],
            )
            await conn.execute("ANALYZE products")
    return owner.id


async def explain(db: Database, sql: str, args: tuple[Any, ...]) -> str:
    async with db.connection() as conn:
        if isinstance(db, PostgresDatabase):
            rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)
            return "\n".join(f"    {row[0]}" for row in rows)
        rows = await conn.fetch("EXPLAIN QUERY PLAN " + translate(sql), *args)
        return "\n".join(f"    {row[-1]}" for row in rows)


async def timed(work: Callable[[], Awaitable[object]]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        await work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def report(url: str, count: int) -> None:
    await upgrade_to_head(url)
    db = open_database(url, DatabaseOptions(statement_timeout=600))  # the seeding COPY is long
    try:
        owner = await seed(db, count)
        capture = Capture(db)
        lamps = Filters(search=search_pattern("lamp"))
        by_id, by_price = Order(), Order(key="price_cents", descending=True)
        # A page of 20 and the row that tells whether another follows, as the route asks.
        page = partial(
            products.page, capture, owner_id=owner, filters=Filters(), order=by_id, after=None
        )
        deep = (await page(limit=1, offset=count * 9 // 10))[0][0]
        cases: dict[str, Callable[[], Awaitable[object]]] = {
            "first page and total (GET /products?limit=20)": lambda: page(
                limit=21, offset=0, counted=True
            ),
            f"a page after a cursor at row {count * 9 // 10}": lambda: page(
                limit=21, offset=0, after=(deep.id, deep.id)
            ),
            "search page (q=lamp&sort=-price&limit=20)": lambda: page(
                limit=21, offset=0, filters=lamps, order=by_price
            ),
            "total (unfiltered)": lambda: products.count(
                capture, owner_id=owner, filters=Filters()
            ),
            "total of the search (count=exact)": lambda: products.count(
                capture, owner_id=owner, filters=lamps
            ),
        }
        print(f"{db.url.get_backend_name()}, one owner with {count:,} products\n")
        for name, case in cases.items():
            milliseconds = await timed(case)
            sql, args = capture.last
            print(f"## {name}: {milliseconds:.2f} ms (median of {RUNS})\n    {sql}")
            print(await explain(db, sql, args), "\n")
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--products", type=int, default=100_000)
    args = parser.parse_args()
    with ExitStack() as stack:
        if args.database == "postgres":
            from tests.services import PostgresServer

            url = stack.enter_context(PostgresServer()).url
        else:
            folder = stack.enter_context(tempfile.TemporaryDirectory())
            url = f"sqlite:///{folder}/plans.db"
        asyncio.run(report(url, args.products))


if __name__ == "__main__":
    main()
