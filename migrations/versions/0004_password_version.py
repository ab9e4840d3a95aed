"""A password version per account, which reset links and racing logins are checked against.

Expand only: new columns with defaults, so the release before keeps working on this schema.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("password_version", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("email_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("email_tokens", schema=None) as batch_op:
        batch_op.drop_column("password_version")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("password_version")
