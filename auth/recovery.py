"""A forgotten password: a link by mail, then a new password through it."""

from auth import mail_tokens, messages
from auth.config import AuthConfig
from auth.errors import InvalidLink
from models import access_tokens, email_tokens, outbox, sessions, users
from models.database import Database
from models.email_tokens import RESET
from models.password_policy import check_password


async def request_reset(db: Database, config: AuthConfig, email: str) -> None:
    """Mail a reset link if the address belongs to an active account; otherwise nothing.

    The route answers before this runs, the same way whether or not the account exists.
    """
    user = await users.get_by_email(db, email)
    if user is None or not user.is_active:
        return
    links = config.links
    async with db.transaction() as conn:
        await email_tokens.use_all(conn, user.id, RESET)  # the newest link replaces the others
        nonce = await mail_tokens.issue(
            conn,
            links,
            user_id=user.id,
            purpose=RESET,
            email=user.email,
            ttl=links.reset_ttl,
            password_digest=mail_tokens.password_digest(user.hashed_password),
            password_version=user.password_version,
        )
        minutes = round(links.reset_ttl.total_seconds() / 60)
        await outbox.enqueue(
            conn, messages.password_reset(user.email, links.app_url, nonce, minutes)
        )


async def confirm_reset(db: Database, config: AuthConfig, token: str, new_password: str) -> None:
    """Set the new password, end every session and personal token of the user, and tell them
    by mail."""
    found = await mail_tokens.find(db, token, RESET)
    user = None if found is None else await users.get(db, found.user_id)
    if (
        found is None
        or user is None
        or not user.is_active
        or found.email != user.email
        or found.password_version != user.password_version
    ):
        raise InvalidLink()
    check_password(new_password, email=user.email, field="new_password")
    new_hash = await config.passwords.hash(new_password)
    async with db.transaction() as conn:
        if not await email_tokens.use(conn, found.token_hash):
            raise InvalidLink()  # spent by a concurrent request
        if not await users.set_new_password(
            conn, user.id, new_hash, password_version=user.password_version
        ):
            raise InvalidLink()  # the password changed meanwhile: the link died with it
        # Following the link proved the mailbox is theirs.
        await users.mark_email_verified(conn, user.id, user.email)
        await sessions.revoke_all(conn, user_id=user.id)
        await access_tokens.revoke_all(conn, user.id)  # whoever reset it may not trust them
        await outbox.enqueue(conn, messages.password_changed(user.email))
