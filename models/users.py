"""Users: read by e-mail, created, changed. E-mail addresses arrive normalised (`schemas.Email`)."""

from dataclasses import dataclass
from datetime import datetime

from models.database import Connection, columns
from models.errors import ConstraintViolation, EmailTaken
from models.types import utcnow


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    full_name: str | None
    hashed_password: str
    is_active: bool
    is_superuser: bool
    created_at: datetime


USER_COLUMNS = columns(User)
# The writable profile fields, the only names an UPDATE is ever built from.
PROFILE_FIELDS = ("email", "full_name")

_BY_EMAIL = f"SELECT {USER_COLUMNS} FROM users WHERE email = $1"
_INSERT = (
    "INSERT INTO users (email, full_name, hashed_password, is_active, is_superuser, created_at) "
    f"VALUES ($1, $2, $3, TRUE, FALSE, $4) RETURNING {USER_COLUMNS}"
)
_SET_PASSWORD = "UPDATE users SET hashed_password = $2 WHERE id = $1"


async def get_by_email(conn: Connection, email: str) -> User | None:
    row = await conn.fetchrow(_BY_EMAIL, email)
    return None if row is None else User(*row)


async def create(
    conn: Connection, *, email: str, hashed_password: str, full_name: str | None = None
) -> User:
    try:
        row = await conn.fetchrow(_INSERT, email, full_name, hashed_password, utcnow())
    except ConstraintViolation as exc:  # the unique index on email, on every worker and host
        raise EmailTaken(email) from exc
    assert row is not None
    return User(*row)


async def update_profile(conn: Connection, user_id: int, changes: dict[str, str | None]) -> User:
    """Set the given profile fields (a subset of PROFILE_FIELDS)."""
    names = [name for name in PROFILE_FIELDS if name in changes]
    assignments = ", ".join(f"{name} = ${n}" for n, name in enumerate(names, start=2))
    sql = f"UPDATE users SET {assignments} WHERE id = $1 RETURNING {USER_COLUMNS}"
    try:
        row = await conn.fetchrow(sql, user_id, *(changes[name] for name in names))
    except ConstraintViolation as exc:
        raise EmailTaken(str(changes.get("email"))) from exc
    assert row is not None
    return User(*row)


async def set_password_hash(conn: Connection, user_id: int, hashed_password: str) -> None:
    await conn.execute(_SET_PASSWORD, user_id, hashed_password)
