"""Login sessions and their refresh tokens (stored only as hashes)."""

from dataclasses import fields
from datetime import datetime

from models.database import Connection, Executor, columns, row_of
from models.tables import AuthSessionTable
from models.types import utcnow
from models.users import User


@row_of(AuthSessionTable)
class AuthSession:
    """One login. Access tokens carry its id (`sid`); revoking the row revokes them all."""

    id: str
    user_id: int
    scope: str
    user_agent: str | None
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


SESSION_COLUMNS = columns(AuthSession)
_SESSION_FIELDS = len(fields(AuthSession))

_INSERT_SESSION = (
    "INSERT INTO auth_sessions (id, user_id, scope, user_agent, created_at, last_used_at, "
    "expires_at) VALUES ($1, $2, $3, $4, $5, $5, $6)"
)
_INSERT_REFRESH = (
    "INSERT INTO refresh_tokens (token_hash, session_id, created_at, spent_at) "
    "VALUES ($1, $2, $3, NULL)"
)
_WITH_USER = (
    f"SELECT {columns(AuthSession, 's.')}, {columns(User, 'u.')} "
    "FROM auth_sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1"
)
_WITH_USER_FOR = _WITH_USER + " AND s.user_id = $2"
# One conditional UPDATE, so two workers racing with the same token cannot both win.
_SPEND = (
    "UPDATE refresh_tokens SET spent_at = $2 WHERE token_hash = $1 AND spent_at IS NULL "
    "RETURNING session_id"
)
_SESSION_OF_TOKEN = "SELECT session_id FROM refresh_tokens WHERE token_hash = $1"
# The last spent of its session? Compared in SQL: on SQLite an aggregate comes back as text.
_SPENT = (
    "SELECT t.spent_at, t.spent_at = "
    "(SELECT max(spent_at) FROM refresh_tokens WHERE session_id = t.session_id) "
    "FROM refresh_tokens t WHERE t.token_hash = $1 AND t.spent_at IS NOT NULL"
)
_SPEND_LIVE = "UPDATE refresh_tokens SET spent_at = $2 WHERE session_id = $1 AND spent_at IS NULL"
# A write that changes nothing, for its row lock (SQLite's write lock is the whole database).
_LOCK = "UPDATE auth_sessions SET last_used_at = last_used_at WHERE id = $1"
_TOUCH = "UPDATE auth_sessions SET last_used_at = $2 WHERE id = $1"
_REVOKE = "UPDATE auth_sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL"
_REVOKE_OWN = _REVOKE + " AND user_id = $3 RETURNING id"
_REVOKE_ANY = _REVOKE + " RETURNING id"
_REVOKE_ALL = "UPDATE auth_sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL"
_REVOKE_OTHERS = (
    "UPDATE auth_sessions SET revoked_at = $3 "
    "WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL"
)
_LIVE = (
    f"SELECT {SESSION_COLUMNS} FROM auth_sessions WHERE user_id = $1 AND revoked_at IS NULL "
    "AND expires_at > $2 AND last_used_at > $3 ORDER BY created_at DESC"
)


async def create(
    conn: Connection,
    *,
    session_id: str,
    user_id: int,
    scope: str,
    expires_at: datetime,
    user_agent: str | None,
    refresh_token_hash: str,
) -> AuthSession:
    """A new session and its first refresh token (call inside a transaction)."""
    now = utcnow()
    user_agent = user_agent[:255] if user_agent else None
    await conn.execute(_INSERT_SESSION, session_id, user_id, scope, user_agent, now, expires_at)
    await conn.execute(_INSERT_REFRESH, refresh_token_hash, session_id, now)
    return AuthSession(
        id=session_id,
        user_id=user_id,
        scope=scope,
        user_agent=user_agent,
        created_at=now,
        last_used_at=now,
        expires_at=expires_at,
        revoked_at=None,
    )


async def get_with_user(
    db: Executor, session_id: str, *, user_id: int | None = None
) -> tuple[AuthSession, User] | None:
    """The one indexed read behind every authenticated request."""
    if user_id is None:
        row = await db.fetchrow(_WITH_USER, session_id)
    else:
        row = await db.fetchrow(_WITH_USER_FOR, session_id, user_id)
    if row is None:
        return None
    return AuthSession(*row[:_SESSION_FIELDS]), User(*row[_SESSION_FIELDS:])


async def spend_refresh_token(db: Executor, token_hash: str) -> str | None:
    """Mark a live refresh token spent; its session id, or None if it was not live."""
    session_id: str | None = await db.fetchval(_SPEND, token_hash, utcnow())
    return session_id


async def last_spent_at(db: Executor, token_hash: str) -> datetime | None:
    """When the token was spent, if it is the one its session spent last."""
    row = await db.fetchrow(_SPENT, token_hash)
    return row[0] if row is not None and row[1] else None


async def spend_live_refresh_tokens(conn: Connection, session_id: str) -> None:
    await conn.execute(_SPEND_LIVE, session_id, utcnow())


async def lock(conn: Connection, session_id: str) -> None:
    """Until the transaction ends, other writers of this session wait: refreshes of one session
    take turns, so it never holds more than one live refresh token."""
    await conn.execute(_LOCK, session_id)


async def session_of_refresh_token(db: Executor, token_hash: str) -> str | None:
    """The session a refresh token was issued to, spent or not."""
    session_id: str | None = await db.fetchval(_SESSION_OF_TOKEN, token_hash)
    return session_id


async def add_refresh_token(conn: Connection, *, session_id: str, token_hash: str) -> None:
    now = utcnow()
    await conn.execute(_INSERT_REFRESH, token_hash, session_id, now)
    await conn.execute(_TOUCH, session_id, now)


async def revoke(db: Executor, session_id: str, *, user_id: int | None = None) -> bool:
    """End a session (and with it every access and refresh token it issued). False: it was
    not live, or not this user's."""
    if user_id is None:
        row = await db.fetchrow(_REVOKE_ANY, session_id, utcnow())
    else:
        row = await db.fetchrow(_REVOKE_OWN, session_id, utcnow(), user_id)
    return row is not None


async def revoke_all(db: Executor, *, user_id: int) -> None:
    await db.execute(_REVOKE_ALL, user_id, utcnow())


async def revoke_all_but(db: Executor, *, user_id: int, keep: str) -> None:
    await db.execute(_REVOKE_OTHERS, user_id, keep, utcnow())


async def list_live(db: Executor, *, user_id: int, idle_since: datetime) -> list[AuthSession]:
    rows = await db.fetch(_LIVE, user_id, utcnow(), idle_since)
    return [AuthSession(*row) for row in rows]
