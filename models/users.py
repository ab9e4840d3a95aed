"""Users: read by e-mail, created, changed. E-mail addresses arrive normalised (`schemas.Email`)."""

from datetime import datetime

from models.database import Executor, columns, row_of
from models.errors import ConstraintViolation, EmailTaken
from models.tables import UserTable
from models.types import utcnow


@row_of(UserTable)
class User:
    id: int
    email: str
    full_name: str | None
    hashed_password: str
    is_active: bool
    is_superuser: bool
    created_at: datetime
    email_verified: bool
    password_version: int


USER_COLUMNS = columns(User)
# The profile fields a user sets directly, the only names an UPDATE is ever built from (the
# e-mail address changes through `change_email`).
PROFILE_FIELDS = ("full_name",)

_BY_EMAIL = f"SELECT {USER_COLUMNS} FROM users WHERE email = $1"
_INSERT = (
    "INSERT INTO users (email, full_name, hashed_password, is_active, is_superuser, created_at) "
    f"VALUES ($1, $2, $3, TRUE, FALSE, $4) RETURNING {USER_COLUMNS}"
)
# Compare-and-set on the password version: of two writes racing (a login's rehash, a reset, a
# change), one that read an older version loses, and a rehash never undoes a new password. On
# PostgreSQL the UPDATE also locks the row until its transaction ends, so a reset or change
# committing meanwhile waits, then sees (and ends) the session this transaction opens.
_NEW_PASSWORD = (
    "UPDATE users SET hashed_password = $2, password_version = password_version + 1 "
    "WHERE id = $1 AND password_version = $3 RETURNING id"
)
_SAME_PASSWORD = (
    "UPDATE users SET hashed_password = $2 WHERE id = $1 AND password_version = $3 RETURNING id"
)
_BY_ID = f"SELECT {USER_COLUMNS} FROM users WHERE id = $1"
# Only the address the link was sent to is verified: a changed address stays unverified.
_VERIFY = "UPDATE users SET email_verified = TRUE WHERE id = $1 AND email = $2 RETURNING id"
# Only while the password is the one the change was confirmed with.
_CHANGE_EMAIL = (
    "UPDATE users SET email = $2, email_verified = FALSE WHERE id = $1 AND password_version = $3 "
    f"RETURNING {USER_COLUMNS}"
)


async def get_by_email(db: Executor, email: str) -> User | None:
    row = await db.fetchrow(_BY_EMAIL, email)
    return None if row is None else User(*row)


async def create(
    db: Executor, *, email: str, hashed_password: str, full_name: str | None = None
) -> User:
    try:
        row = await db.fetchrow(_INSERT, email, full_name, hashed_password, utcnow())
    except ConstraintViolation as exc:  # the unique index on email, on every worker and host
        raise EmailTaken(email) from exc
    assert row is not None
    return User(*row)


async def get(db: Executor, user_id: int) -> User | None:
    row = await db.fetchrow(_BY_ID, user_id)
    return None if row is None else User(*row)


async def update_profile(db: Executor, user_id: int, changes: dict[str, str | None]) -> User:
    """Set the given profile fields (a subset of PROFILE_FIELDS)."""
    names = [name for name in PROFILE_FIELDS if name in changes]
    assignments = ", ".join(f"{name} = ${n}" for n, name in enumerate(names, start=2))
    sql = f"UPDATE users SET {assignments} WHERE id = $1 RETURNING {USER_COLUMNS}"
    row = await db.fetchrow(sql, user_id, *(changes[name] for name in names))
    assert row is not None
    return User(*row)


async def change_email(
    db: Executor, user_id: int, email: str, *, password_version: int
) -> User | None:
    """A new address, unverified until its owner follows the link sent to it. None if the
    password changed since it confirmed the change."""
    try:
        row = await db.fetchrow(_CHANGE_EMAIL, user_id, email, password_version)
    except ConstraintViolation as exc:
        raise EmailTaken(email) from exc
    return None if row is None else User(*row)


async def mark_email_verified(db: Executor, user_id: int, email: str) -> bool:
    """False if the account's address is no longer the one that was verified."""
    return await db.fetchrow(_VERIFY, user_id, email) is not None


async def set_new_password(
    db: Executor, user_id: int, hashed_password: str, *, password_version: int
) -> bool:
    """A new password, if the account's is still the version the caller checked."""
    return await db.fetchrow(_NEW_PASSWORD, user_id, hashed_password, password_version) is not None


async def confirm_password(
    db: Executor, user_id: int, hashed_password: str, *, password_version: int
) -> bool:
    """The password a login verified is still the account's: store its hash (the same, or a
    stronger one of the same password). False if a new password came meanwhile."""
    row = await db.fetchrow(_SAME_PASSWORD, user_id, hashed_password, password_version)
    return row is not None
