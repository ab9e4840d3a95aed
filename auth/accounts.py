"""Accounts: registration and password changes, the two places a password is set."""

from auth.config import AuthConfig
from auth.deps import Principal
from models import sessions, users
from models.database import Database
from models.password_policy import check_password
from models.schemas import PasswordChange, UserCreate
from models.users import User


async def register(db: Database, config: AuthConfig, body: UserCreate) -> User:
    check_password(body.password, email=body.email, field="password")
    hashed = await config.passwords.hash(body.password)  # before the write: short transactions
    async with db.connection() as conn:
        return await users.create(
            conn, email=body.email, hashed_password=hashed, full_name=body.full_name
        )


async def change_password(
    db: Database, config: AuthConfig, principal: Principal, body: PasswordChange
) -> bool:
    """Verify, re-hash, and end every other session of the user. False: wrong current password."""
    user = principal.user
    check_password(body.new_password, email=user.email, field="new_password")
    valid, _ = await config.passwords.verify(body.current_password, user.hashed_password)
    if not valid:
        return False
    new_hash = await config.passwords.hash(body.new_password)
    async with db.transaction() as conn:
        await users.set_password_hash(conn, user.id, new_hash)
        await sessions.revoke_all_but(conn, user_id=user.id, keep=principal.session.id)
    return True
