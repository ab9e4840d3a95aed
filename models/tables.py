"""The schema as SQLModel tables: Alembic's autogenerate compares the migrations with these.

Requests never load these classes; the repositories (`models/users.py`, `sessions.py`,
`products.py`) read and write the same tables with SQL and return typed rows of their own.
"""

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Text, false
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, utcnow


class UserTable(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    # Stored normalised (lower-case), so the unique index makes the race on duplicate
    # registrations the database's problem, on every worker and host.
    email: str = Field(sa_column=Column(String(320), nullable=False, unique=True))
    full_name: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    hashed_password: str = Field(sa_column=Column(String(255), nullable=False))
    is_active: bool = Field(default=True)
    is_superuser: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    email_verified: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    # Raised by every new password (a reset, a change), not by a login's rehash of the same one:
    # what racing writers compare-and-set, and what a reset link is bound to.
    password_version: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )


class AuthSessionTable(SQLModel, table=True):
    """One login. Access tokens carry its id (`sid`); revoking the row revokes them all."""

    __tablename__ = "auth_sessions"

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    user_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    scope: str = Field(sa_column=Column(String(500), nullable=False))
    user_agent: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_used_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class RefreshTokenTable(SQLModel, table=True):
    """Every refresh token a session was given, by hash. The unspent one is live; presenting a
    spent one again is reuse (RFC 9700 §4.14.2) and ends the session."""

    __tablename__ = "refresh_tokens"

    token_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    session_id: str = Field(
        sa_column=Column(
            String(64),
            ForeignKey("auth_sessions.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    spent_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class ProductTable(SQLModel, table=True):
    __tablename__ = "products"
    # One index per order a list can take, each ending in the id that breaks ties, so a page
    # (and the page after a cursor) is a range read whatever the owner holds.
    __table_args__ = (
        Index("ix_products_owner_id_id", "owner_id", "id"),
        Index("ix_products_owner_id_name_id", "owner_id", "name", "id"),
        Index("ix_products_owner_id_price_cents_id", "owner_id", "price_cents", "id"),
        Index("ix_products_owner_id_created_at_id", "owner_id", "created_at", "id"),
        Index("ix_products_owner_id_updated_at_id", "owner_id", "updated_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    name: str = Field(sa_column=Column(String(200), nullable=False))
    # Integer cents: exact on every backend (SQLite has no decimal type).
    price_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    description: str | None = Field(default=None, sa_column=Column(String(2000), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # Raised by every update (a trigger raises it for writers that do not): the ETag.
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))


class ProductCountTable(SQLModel, table=True):
    """How many products each owner has, kept by triggers in the transaction of every insert
    and delete, so a page's `total` is one row, never a count."""

    __tablename__ = "product_counts"

    owner_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    products: int = Field(sa_column=Column(Integer, nullable=False))


class IdempotencyKeyTable(SQLModel, table=True):
    """A create sent with `Idempotency-Key`: claimed before it runs, completed (its status and
    body) in the create's own transaction, answered again to a retry, purged once expired."""

    __tablename__ = "idempotency_keys"

    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    key: str = Field(sa_column=Column(String(255), primary_key=True))
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    status_code: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    response_body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class EmailTokenTable(SQLModel, table=True):
    """A link sent by mail (password reset, address verification), by the hash of its token.

    Single use (`used_at`), expiring, and bound to what it was issued for: the address it was
    sent to, and for a reset the password it may replace (`users.password_version`), so a
    password changed by any path kills it.
    """

    __tablename__ = "email_tokens"

    token_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    user_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    purpose: str = Field(sa_column=Column(String(32), nullable=False))
    email: str = Field(sa_column=Column(String(320), nullable=False))
    # The release before bound reset links to this digest of the password hash; written for it
    # until every instance reads `password_version` (expand, then contract).
    password_digest: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    password_version: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))


class MailOutboxTable(SQLModel, table=True):
    """Mail to send, written in the transaction that caused it; a sender delivers and marks it.

    A link's secret is not stored here: `link_nonce` lets the sender derive it with the server's
    key (auth/mail_tokens.py), so the table holds nothing a reader could follow.
    """

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_pending", "sent_at", "failed_at", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    recipient: str = Field(sa_column=Column(String(320), nullable=False))
    subject: str = Field(sa_column=Column(String(255), nullable=False))
    body_text: str = Field(sa_column=Column(Text, nullable=False))
    body_html: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    link_nonce: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    attempts: int = Field(default=0, nullable=False)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    failed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    last_error: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))


class AccessTokenTable(SQLModel, table=True):
    """A personal access token for scripts: scoped, expiring, revocable, by the hash of its
    secret (shown once, when it is made)."""

    __tablename__ = "access_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    name: str = Field(sa_column=Column(String(100), nullable=False))
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    scope: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
