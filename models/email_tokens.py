"""Links sent by mail: single-use tokens, stored by their hash (`tables.EmailTokenTable`)."""

from datetime import datetime
from typing import Literal

from models.database import Executor, columns, row_of
from models.tables import EmailTokenTable
from models.types import utcnow

Purpose = Literal["password_reset", "email_verify"]
RESET: Purpose = "password_reset"
VERIFY: Purpose = "email_verify"


@row_of(EmailTokenTable)
class EmailToken:
    token_hash: str
    user_id: int
    purpose: str
    email: str
    password_digest: str | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    password_version: int | None


TOKEN_COLUMNS = columns(EmailToken)

_INSERT = (
    "INSERT INTO email_tokens (token_hash, user_id, purpose, email, password_digest, "
    "created_at, expires_at, password_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
)
_LIVE = (
    f"SELECT {TOKEN_COLUMNS} FROM email_tokens "
    "WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3"
)
# One conditional UPDATE: of two requests racing with one token, one wins.
_USE = (
    "UPDATE email_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL "
    "RETURNING token_hash"
)
_USE_ALL = (
    "UPDATE email_tokens SET used_at = $3 WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL"
)


async def create(
    db: Executor,
    *,
    token_hash: str,
    user_id: int,
    purpose: Purpose,
    email: str,
    expires_at: datetime,
    password_digest: str | None = None,
    password_version: int | None = None,
) -> None:
    await db.execute(
        _INSERT,
        token_hash,
        user_id,
        purpose,
        email,
        password_digest,
        utcnow(),
        expires_at,
        password_version,
    )


async def get_live(db: Executor, token_hash: str, purpose: Purpose) -> EmailToken | None:
    """The token if it is of this kind, unused and unexpired."""
    row = await db.fetchrow(_LIVE, token_hash, purpose, utcnow())
    return None if row is None else EmailToken(*row)


async def use(db: Executor, token_hash: str) -> bool:
    """Spend the token; False if another request spent it first."""
    return await db.fetchrow(_USE, token_hash, utcnow()) is not None


async def use_all(db: Executor, user_id: int, purpose: Purpose) -> None:
    """Spend every outstanding token of this kind (a newer link replaces the older ones)."""
    await db.execute(_USE_ALL, user_id, purpose, utcnow())
