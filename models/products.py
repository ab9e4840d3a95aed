"""Products, each owned by one user: every query names the owner, so nobody reaches another's."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

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


@dataclass(frozen=True, slots=True)
class ProductPage:
    items: list[Product]
    total: int


PRODUCT_COLUMNS = columns(Product)
# The fields a client may change, the only names an UPDATE is ever built from.
EDITABLE_FIELDS = ("name", "price_cents", "description")

_INSERT = (
    "INSERT INTO products (owner_id, name, price_cents, description, created_at, updated_at) "
    f"VALUES ($1, $2, $3, $4, $5, $5) RETURNING {PRODUCT_COLUMNS}"
)
_ONE = f"SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1 AND owner_id = $2"
# Ordered by the primary key: unique and immutable, so pages never overlap or skip.
# count(*) OVER () is computed before LIMIT: each row carries the total, so one query serves
# the page and its count.
_PAGE = (
    f"SELECT {PRODUCT_COLUMNS}, count(*) OVER () FROM products WHERE owner_id = $1 "
    "ORDER BY id LIMIT $2 OFFSET $3"
)
_COUNT = "SELECT count(*) FROM products WHERE owner_id = $1"
_DELETE = "DELETE FROM products WHERE id = $1 AND owner_id = $2 RETURNING id"


async def create(
    db: Executor, *, owner_id: int, name: str, price_cents: int, description: str | None
) -> Product:
    row = await db.fetchrow(_INSERT, owner_id, name, price_cents, description, utcnow())
    assert row is not None
    return Product(*row)


async def get(db: Executor, *, owner_id: int, product_id: int) -> Product | None:
    row = await db.fetchrow(_ONE, product_id, owner_id)
    return None if row is None else Product(*row)


async def page(db: Executor, *, owner_id: int, limit: int, offset: int) -> ProductPage:
    rows = await db.fetch(_PAGE, owner_id, limit, offset)
    if rows:
        return ProductPage([Product(*row[:-1]) for row in rows], total=rows[0][-1])
    # An empty page: no products, or paged past the end (then count them).
    total = 0 if offset == 0 else await db.fetchval(_COUNT, owner_id)
    return ProductPage([], total=total)


async def update(
    db: Executor, *, owner_id: int, product_id: int, changes: dict[str, Any]
) -> Product | None:
    """Set the given fields (a subset of EDITABLE_FIELDS); None if there is no such product."""
    names = [name for name in EDITABLE_FIELDS if name in changes]
    assignments = "".join(f"{name} = ${n}, " for n, name in enumerate(names, start=4))
    sql = (
        f"UPDATE products SET {assignments}updated_at = $3 WHERE id = $1 AND owner_id = $2 "
        f"RETURNING {PRODUCT_COLUMNS}"
    )
    values = (changes[name] for name in names)
    row = await db.fetchrow(sql, product_id, owner_id, utcnow(), *values)
    return None if row is None else Product(*row)


async def delete(db: Executor, *, owner_id: int, product_id: int) -> bool:
    return await db.fetchrow(_DELETE, product_id, owner_id) is not None
