"""Products get a version (their ETag), a per-owner count kept by the database, and
idempotency keys for creates.

Expand only: a defaulted column, new tables, triggers. The release before keeps writing
products on this schema, and the triggers keep its writes counted and versioned too.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Triggers, per dialect: what the two databases spell differently.
POSTGRES_UP = [
    """
    CREATE FUNCTION products_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO product_counts (owner_id, products) VALUES (NEW.owner_id, 1)
            ON CONFLICT (owner_id) DO UPDATE SET products = product_counts.products + 1;
            RETURN NEW;
        END IF;
        UPDATE product_counts SET products = products - 1 WHERE owner_id = OLD.owner_id;
        RETURN OLD;
    END $$
    """,
    """
    CREATE TRIGGER products_count AFTER INSERT OR DELETE ON products
    FOR EACH ROW EXECUTE FUNCTION products_count()
    """,
    """
    CREATE FUNCTION products_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.version = OLD.version THEN
            NEW.version := OLD.version + 1;
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER products_version BEFORE UPDATE ON products
    FOR EACH ROW EXECUTE FUNCTION products_version()
    """,
]
POSTGRES_DOWN = [
    "DROP TRIGGER products_version ON products",
    "DROP FUNCTION products_version()",
    "DROP TRIGGER products_count ON products",
    "DROP FUNCTION products_count()",
]
SQLITE_UP = [
    """
    CREATE TRIGGER products_counted AFTER INSERT ON products BEGIN
        INSERT INTO product_counts (owner_id, products) VALUES (NEW.owner_id, 1)
        ON CONFLICT (owner_id) DO UPDATE SET products = products + 1;
    END
    """,
    """
    CREATE TRIGGER products_uncounted AFTER DELETE ON products BEGIN
        UPDATE product_counts SET products = products - 1 WHERE owner_id = OLD.owner_id;
    END
    """,
    """
    CREATE TRIGGER products_versioned AFTER UPDATE ON products
    WHEN NEW.version = OLD.version BEGIN
        UPDATE products SET version = OLD.version + 1 WHERE id = NEW.id;
    END
    """,
]
SQLITE_DOWN = [
    "DROP TRIGGER products_versioned",
    "DROP TRIGGER products_uncounted",
    "DROP TRIGGER products_counted",
]


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.create_table(
        "product_counts",
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("products", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("owner_id"),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "key"),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index("ix_idempotency_keys_expires_at", ["expires_at"], unique=False)
    # The triggers first, then the counts: on PostgreSQL creating a trigger locks out writes to
    # products until this transaction commits, so no product lands between the count and the
    # trigger that keeps it.
    statements = POSTGRES_UP if op.get_bind().dialect.name == "postgresql" else SQLITE_UP
    for statement in statements:
        op.execute(statement)
    op.execute(
        "INSERT INTO product_counts (owner_id, products) "
        "SELECT owner_id, count(*) FROM products GROUP BY owner_id"
    )


def downgrade() -> None:
    statements = POSTGRES_DOWN if op.get_bind().dialect.name == "postgresql" else SQLITE_DOWN
    for statement in statements:
        op.execute(statement)
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_idempotency_keys_expires_at")
    op.drop_table("idempotency_keys")
    op.drop_table("product_counts")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("version")
