"""Personal access tokens: the rows behind `stk_pat_...` bearer tokens (auth/personal_tokens.py)."""

from dataclasses import fields
from datetime import datetime, timedelta

from models.database import Connection, Executor, columns, row_of
from models.tables import AccessTokenTable
from models.types import utcnow
from models.users import User


@row_of(AccessTokenTable)
class AccessToken:
    id: int
    user_id: int
    name: str
    scope: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


TOKEN_COLUMNS = columns(AccessToken)
_TOKEN_FIELDS = len(fields(AccessToken))
# Last use is kept to the minute: a token used all the time costs one write a minute.
LAST_USE_RESOLUTION = timedelta(minutes=1)

_INSERT = (
    "INSERT INTO access_tokens (user_id, name, token_hash, scope, created_at, expires_at) "
    f"VALUES ($1, $2, $3, $4, $5, $6) RETURNING {TOKEN_COLUMNS}"
)
_LOCK_USER = "SELECT id FROM users WHERE id = $1 FOR UPDATE"
_COUNT_LIVE = (
    "SELECT count(*) FROM access_tokens "
    "WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2"
)
_LIVE = (
    f"SELECT {TOKEN_COLUMNS} FROM access_tokens "
    "WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY id"
)
_WITH_USER = (
    f"SELECT {columns(AccessToken, 't.')}, {columns(User, 'u.')} "
    "FROM access_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1"
)
_TOUCH = (
    "UPDATE access_tokens SET last_used_at = $2 "
    "WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)"
)
_REVOKE = (
    "UPDATE access_tokens SET revoked_at = $3 WHERE id = $1 AND user_id = $2 "
    "AND revoked_at IS NULL RETURNING id"
)
_REVOKE_ALL = "UPDATE access_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL"


async def live_count(conn: Connection, user_id: int) -> int:
    """How many live tokens the user has, holding the user's row until the transaction ends
    (PostgreSQL; SQLite's one writer serialises anyway), so two creations cannot both pass a
    limit."""
    if conn.dialect == "postgresql":
        await conn.execute(_LOCK_USER, user_id)
    count: int = await conn.fetchval(_COUNT_LIVE, user_id, utcnow())
    return count


async def create(
    db: Executor, *, user_id: int, name: str, token_hash: str, scope: str, lifetime: timedelta
) -> AccessToken:
    now = utcnow()
    row = await db.fetchrow(_INSERT, user_id, name, token_hash, scope, now, now + lifetime)
    assert row is not None
    return AccessToken(*row)


async def list_live(db: Executor, user_id: int) -> list[AccessToken]:
    return [AccessToken(*row) for row in await db.fetch(_LIVE, user_id, utcnow())]


async def get_with_user(db: Executor, token_hash: str) -> tuple[AccessToken, User] | None:
    """The one indexed read behind every request authenticated by a personal token."""
    row = await db.fetchrow(_WITH_USER, token_hash)
    if row is None:
        return None
    return AccessToken(*row[:_TOKEN_FIELDS]), User(*row[_TOKEN_FIELDS:])


async def note_use(db: Executor, token: AccessToken) -> None:
    """Record the use, unless it was recorded less than a minute ago."""
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USE_RESOLUTION:
        await db.execute(_TOUCH, token.id, now, now - LAST_USE_RESOLUTION)


async def revoke(db: Executor, *, token_id: int, user_id: int) -> bool:
    return await db.fetchrow(_REVOKE, token_id, user_id, utcnow()) is not None


async def revoke_all(db: Executor, user_id: int) -> None:
    await db.execute(_REVOKE_ALL, user_id, utcnow())
