"""Accounts: registration, the profile, the password and the e-mail address."""

from auth import mail_tokens, messages
from auth.config import AuthConfig
from auth.deps import Login
from auth.errors import CredentialsChanged, InvalidLink
from auth.passwords import UNGUARDED, Guard
from models import email_tokens, outbox, sessions, users
from models.database import Connection, Database
from models.email_tokens import RESET, VERIFY
from models.password_policy import check_password
from models.schemas import PasswordChange, UserCreate, UserUpdate
from models.users import User


async def send_verification(conn: Connection, config: AuthConfig, user: User) -> None:
    """A new verification link for the account's address (older ones stop working)."""
    links = config.links
    await email_tokens.use_all(conn, user.id, VERIFY)
    nonce = await mail_tokens.issue(
        conn, links, user_id=user.id, purpose=VERIFY, email=user.email, ttl=links.verify_ttl
    )
    hours = round(links.verify_ttl.total_seconds() / 3600)
    await outbox.enqueue(conn, messages.verify_email(user.email, links.app_url, nonce, hours))


async def resend_verification(db: Database, config: AuthConfig, user: User) -> None:
    async with db.transaction() as conn:
        await send_verification(conn, config, user)


async def register(db: Database, config: AuthConfig, body: UserCreate) -> User:
    check_password(body.password, email=body.email, field="password")
    hashed = await config.passwords.hash(body.password)  # before the write: short transactions
    async with db.transaction() as conn:
        user = await users.create(
            conn, email=body.email, hashed_password=hashed, full_name=body.full_name
        )
        await send_verification(conn, config, user)
    return user


async def verify_email(db: Database, token: str) -> None:
    async with db.transaction() as conn:
        found = await mail_tokens.find(conn, token, VERIFY)
        if found is None or not await email_tokens.use(conn, found.token_hash):
            raise InvalidLink()
        if not await users.mark_email_verified(conn, found.user_id, found.email):
            raise InvalidLink()  # the address changed since the link was sent


async def update_profile(
    db: Database,
    config: AuthConfig,
    principal: Login,
    body: UserUpdate,
    *,
    guard: Guard = UNGUARDED,
) -> User:
    """Apply the changes. A new address needs the current password (`WrongPassword`), retires
    every link mailed to the old one, and is itself unverified until its link is followed."""
    user = principal.user
    changes = body.model_dump(exclude_unset=True, exclude={"email", "current_password"})
    new_email = body.email if changes_address(user, body) else None
    if new_email is not None:
        assert body.current_password is not None  # the schema requires it with an address
        await config.passwords.check(body.current_password, user.hashed_password, guard=guard)
    if not changes and new_email is None:
        return user
    async with db.transaction() as conn:
        if changes:
            user = await users.update_profile(conn, user.id, changes)
        if new_email is not None:
            changed = await users.change_email(
                conn, user.id, new_email, password_version=user.password_version
            )
            if changed is None:
                raise CredentialsChanged()
            user = changed
            # A reset link sent to the old address must not come back to life with it.
            await email_tokens.use_all(conn, user.id, RESET)
            await send_verification(conn, config, user)
            await outbox.enqueue(conn, messages.email_changed(principal.user.email, new_email))
    return user


def changes_address(user: User, body: UserUpdate) -> bool:
    return body.email is not None and body.email != user.email


async def change_password(
    db: Database,
    config: AuthConfig,
    principal: Login,
    body: PasswordChange,
    *,
    guard: Guard = UNGUARDED,
) -> None:
    """Verify (`WrongPassword`), re-hash, and end every other session of the user."""
    user = principal.user
    check_password(body.new_password, email=user.email, field="new_password")
    await config.passwords.check(body.current_password, user.hashed_password, guard=guard)
    new_hash = await config.passwords.hash(body.new_password)
    async with db.transaction() as conn:
        if not await users.set_new_password(
            conn, user.id, new_hash, password_version=user.password_version
        ):
            raise CredentialsChanged()  # a reset or another change came first: it stands
        await sessions.revoke_all_but(conn, user_id=user.id, keep=principal.session.id)
        await outbox.enqueue(conn, messages.password_changed(user.email))
