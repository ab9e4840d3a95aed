"""Indexes for every order a product list can take, each ending in the id that breaks ties.

On PostgreSQL they are built CONCURRENTLY, outside a transaction, so writes to products go on
while they build (the release before keeps serving). A build that died half-way leaves an
invalid index behind: it is dropped and built again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_products_owner_id_name_id": ["owner_id", "name", "id"],
    "ix_products_owner_id_price_cents_id": ["owner_id", "price_cents", "id"],
    "ix_products_owner_id_created_at_id": ["owner_id", "created_at", "id"],
    "ix_products_owner_id_updated_at_id": ["owner_id", "updated_at", "id"],
}
_INVALID = (
    "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
    "WHERE c.relname = :name AND NOT i.indisvalid"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for name, columns in INDEXES.items():
            op.create_index(name, "products", columns)
        return
    with op.get_context().autocommit_block():
        for name, columns in INDEXES.items():
            if op.get_bind().execute(text(_INVALID), {"name": name}).first() is not None:
                op.drop_index(name, table_name="products", postgresql_concurrently=True)
            op.create_index(
                name, "products", columns, postgresql_concurrently=True, if_not_exists=True
            )


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="products")
