"""The schema as SQLModel tables: Alembic's autogenerate compares the migrations with these.

Requests never load these classes; the repositories (`models/users.py`, `sessions.py`,
`products.py`) read and write the same tables with SQL and return typed rows of their own.
"""

from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String
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
    __table_args__ = (Index("ix_products_owner_id_id", "owner_id", "id"),)

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
