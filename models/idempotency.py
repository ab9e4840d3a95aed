"""Idempotency keys (IETF httpapi Idempotency-Key): one create per key and user, whoever retries.

A key is claimed in a statement of its own before the create runs, so a retry that arrives
while the first is still running finds it claimed (and is told so) rather than waiting on it;
the create then completes the claim, with the answer it gave, in its own transaction. A claim
whose create failed is released; one whose process died is taken over once it is stale.
"""

from datetime import datetime, timedelta

from models.database import Connection, Executor, columns, row_of
from models.errors import ConstraintViolation
from models.tables import IdempotencyKeyTable
from models.types import utcnow


@row_of(IdempotencyKeyTable)
class IdempotencyKey:
    user_id: int
    key: str
    request_hash: str
    created_at: datetime
    expires_at: datetime
    status_code: int | None
    response_body: str | None

    @property
    def completed(self) -> bool:
        return self.status_code is not None


KEY_COLUMNS = columns(IdempotencyKey)
# Longer than any bounded wait of a create (pool, statement): a claim this old lost its request.
STALE_CLAIM = timedelta(seconds=60)

_CLAIM = (
    "INSERT INTO idempotency_keys (user_id, key, request_hash, created_at, expires_at) "
    "VALUES ($1, $2, $3, $4, $5)"
)
_GET = f"SELECT {KEY_COLUMNS} FROM idempotency_keys WHERE user_id = $1 AND key = $2"
# Compare-and-set on when it was claimed: of two takers of one dead claim, one wins.
_TAKE_OVER = (
    "UPDATE idempotency_keys SET request_hash = $3, created_at = $4, expires_at = $5 "
    "WHERE user_id = $1 AND key = $2 AND created_at = $6 AND (expires_at <= $4 "
    "OR (status_code IS NULL AND created_at <= $7)) RETURNING user_id"
)
_COMPLETE = (
    "UPDATE idempotency_keys SET status_code = $3, response_body = $4 "
    "WHERE user_id = $1 AND key = $2 AND status_code IS NULL"
)
_RELEASE = "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND status_code IS NULL"
_PURGE = (
    "DELETE FROM idempotency_keys WHERE (user_id, key) IN "
    "(SELECT user_id, key FROM idempotency_keys WHERE expires_at <= $1 LIMIT $2) RETURNING key"
)


async def claim(
    db: Executor, *, user_id: int, key: str, request_hash: str, lifetime: timedelta
) -> IdempotencyKey | None:
    """Claim the key for a new request: None when claimed; else the key as it stands (another
    request's, live), which the caller answers from."""
    for _ in range(3):  # each turn lost a race that changed the key; it cannot go on for long
        now = utcnow()
        try:
            await db.execute(_CLAIM, user_id, key, request_hash, now, now + lifetime)
            return None
        except ConstraintViolation:
            found = await _get(db, user_id, key)
        if found is None:
            continue  # released or purged in between: claim it again
        stale = not found.completed and found.created_at <= now - STALE_CLAIM
        if found.expires_at > now and not stale:
            return found
        args = (request_hash, now, now + lifetime, found.created_at, now - STALE_CLAIM)
        if await db.fetchrow(_TAKE_OVER, user_id, key, *args) is not None:
            return None
    raise ConstraintViolation(f"idempotency key {key!r} changed under three claims in a row")


async def _get(db: Executor, user_id: int, key: str) -> IdempotencyKey | None:
    row = await db.fetchrow(_GET, user_id, key)
    return None if row is None else IdempotencyKey(*row)


async def complete(
    conn: Connection, *, user_id: int, key: str, status_code: int, response_body: str
) -> None:
    """Record the answer, in the transaction that did the work."""
    await conn.execute(_COMPLETE, user_id, key, status_code, response_body)


async def release(db: Executor, *, user_id: int, key: str) -> None:
    """Give back a claim whose request failed, so a retry may run it."""
    await db.execute(_RELEASE, user_id, key)


async def purge_expired(db: Executor, *, batch: int) -> int:
    """Delete up to `batch` expired keys; how many went."""
    return len(await db.fetch(_PURGE, utcnow(), batch))
