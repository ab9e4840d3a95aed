"""Products, each owned by one user: every query names the owner, so nobody reaches another's.

A product's version rises with every update; a conditional write names the version it expects
in its own WHERE, so the check and the write are one statement and a lost update cannot happen.
Lists are keyset pages: after the last row seen, in an order one index serves (the owner, the
sort key, then the id), so a page costs the same however many products the owner has.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from models.database import Executor, columns, row_of
from models.tables import ProductTable
from models.types import utcnow


@row_of(ProductTable)
class Product:
    id: int
    owner_id: int
    name: str
    # Integer cents: exact on every backend (SQLite has no decimal type).
    price_cents: int
    description: str | None
    created_at: datetime
    updated_at: datetime
    version: int


SortKey = Literal["id", "name", "price_cents", "created_at", "updated_at"]
# The fields a client may change, the only names an UPDATE is ever built from.
EDITABLE_FIELDS = ("name", "price_cents", "description")
PRODUCT_COLUMNS = columns(Product)
# `\` escapes `%`, `_` and itself in a search pattern (`search_pattern`).
LIKE_ESCAPE = "\\"

_INSERT = (
    "INSERT INTO products (owner_id, name, price_cents, description, created_at, updated_at, "
    f"version) VALUES ($1, $2, $3, $4, $5, $5, 1) RETURNING {PRODUCT_COLUMNS}"
)
_ONE = f"SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1 AND owner_id = $2"
_COUNT = "SELECT products FROM product_counts WHERE owner_id = $1"
_DELETE = "DELETE FROM products WHERE id = $1 AND owner_id = $2"


class NoSuchProduct(Exception):
    """Not among the owner's products: missing, or another user's (the same answer for both)."""


@dataclass(frozen=True, slots=True)
class Filters:
    """Which of the owner's products a list shows."""

    search: str | None = None  # `search_pattern` of what the client typed
    min_price_cents: int | None = None
    max_price_cents: int | None = None

    @property
    def narrowing(self) -> bool:
        return (self.search, self.min_price_cents, self.max_price_cents) != (None, None, None)


@dataclass(frozen=True, slots=True)
class Order:
    key: SortKey = "id"
    descending: bool = False


def search_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, literally (its `%` and `_` are not wildcards)."""
    escaped = (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )
    return f"%{escaped}%"


async def create(
    db: Executor, *, owner_id: int, name: str, price_cents: int, description: str | None
) -> Product:
    row = await db.fetchrow(_INSERT, owner_id, name, price_cents, description, utcnow())
    assert row is not None
    return Product(*row)


async def get(db: Executor, *, owner_id: int, product_id: int) -> Product | None:
    row = await db.fetchrow(_ONE, product_id, owner_id)
    return None if row is None else Product(*row)


async def page(
    db: Executor,
    *,
    owner_id: int,
    filters: Filters,
    order: Order,
    after: tuple[Any, int] | None,
    limit: int,
    offset: int,
    counted: bool = False,
) -> tuple[list[Product], int | None]:
    """Up to `limit` products in `order`, from just after the row whose (sort value, id) is
    `after`, skipping `offset` more; and when `counted`, how many `count` finds."""
    where, args = _conditions(db, owner_id, filters)
    # The unfiltered count is one row: read with the page, in the same statement.
    with_count = counted and not filters.narrowing
    direction = "DESC" if order.descending else "ASC"
    # The id breaks ties (and is the whole key when the order is by id).
    keys = ("id",) if order.key == "id" else (order.key, "id")
    if after is not None:
        # One row-value comparison: both databases read it as a range of the sort index.
        values = after[1:] if order.key == "id" else after
        placeholders = ", ".join(f"${len(args) + n}" for n in range(1, len(keys) + 1))
        where.append(f"({', '.join(keys)}) {'<' if order.descending else '>'} ({placeholders})")
        args += list(values)
    select = f"{PRODUCT_COLUMNS}, ({_COUNT})" if with_count else PRODUCT_COLUMNS
    sql = (
        f"SELECT {select} FROM products WHERE {' AND '.join(where)} "
        f"ORDER BY {', '.join(f'{key} {direction}' for key in keys)} "
        f"LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}"
    )
    rows = await db.fetch(sql, *args, limit, offset)
    if not with_count:
        found = [Product(*row) for row in rows]
        total = await count(db, owner_id=owner_id, filters=filters) if counted else None
        return found, total
    if not rows:  # past the end, or nothing at all
        return [], await count(db, owner_id=owner_id, filters=filters)
    return [Product(*row[:-1]) for row in rows], int(rows[0][-1] or 0)


async def count(db: Executor, *, owner_id: int, filters: Filters) -> int:
    """All the owner's products: one row the triggers keep. With filters: a count of the rows
    they match, which reads every product of the owner."""
    if not filters.narrowing:
        return int(await db.fetchval(_COUNT, owner_id) or 0)
    where, args = _conditions(db, owner_id, filters)
    return int(
        await db.fetchval(f"SELECT count(*) FROM products WHERE {' AND '.join(where)}", *args)
    )


# Case-insensitive matching: SQLite's LIKE is (for ASCII letters), PostgreSQL's ILIKE is (for
# every letter its locale folds). Neither lowers each row's text first, as lower() would.
_LIKE = {"sqlite": "LIKE", "postgresql": "ILIKE"}


def _conditions(db: Executor, owner_id: int, filters: Filters) -> tuple[list[str], list[Any]]:
    where: list[str] = ["owner_id = $1"]
    args: list[Any] = [owner_id]
    if filters.search is not None:
        args.append(filters.search)
        n, like = len(args), _LIKE[db.dialect]
        where.append(
            f"(name {like} ${n} ESCAPE '{LIKE_ESCAPE}' "
            f"OR description {like} ${n} ESCAPE '{LIKE_ESCAPE}')"
        )
    if filters.min_price_cents is not None:
        args.append(filters.min_price_cents)
        where.append(f"price_cents >= ${len(args)}")
    if filters.max_price_cents is not None:
        args.append(filters.max_price_cents)
        where.append(f"price_cents <= ${len(args)}")
    return where, args


async def update(
    db: Executor,
    *,
    owner_id: int,
    product_id: int,
    changes: dict[str, Any],
    versions: Collection[int] | None = None,
) -> Product | None:
    """Set the given fields (a subset of EDITABLE_FIELDS) and raise the version; only if the
    version is one of `versions`, when given. None if no product matched."""
    names = [name for name in EDITABLE_FIELDS if name in changes]
    assignments = "".join(f"{name} = ${n}, " for n, name in enumerate(names, start=4))
    args: list[Any] = [product_id, owner_id, utcnow(), *(changes[name] for name in names)]
    sql = (
        f"UPDATE products SET {assignments}updated_at = $3, version = version + 1 "
        f"WHERE id = $1 AND owner_id = $2{_version_in(versions, args)} "
        f"RETURNING {PRODUCT_COLUMNS}"
    )
    row = await db.fetchrow(sql, *args)
    return None if row is None else Product(*row)


async def delete(
    db: Executor, *, owner_id: int, product_id: int, versions: Collection[int] | None = None
) -> bool:
    """Delete the product, only at one of `versions` when given. False if none matched."""
    args: list[Any] = [product_id, owner_id]
    sql = f"{_DELETE}{_version_in(versions, args)} RETURNING id"
    return await db.fetchrow(sql, *args) is not None


def _version_in(versions: Collection[int] | None, args: list[Any]) -> str:
    """The WHERE condition on the version (its values appended to `args`), or nothing."""
    if versions is None:
        return ""
    start = len(args) + 1
    args += list(versions)
    placeholders = ", ".join(f"${n}" for n in range(start, len(args) + 1)) or "NULL"
    return f" AND version IN ({placeholders})"
