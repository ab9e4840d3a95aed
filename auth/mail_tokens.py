"""The secrets in links sent by mail (password reset, address verification).

A link's token is derived from a random nonce and the server's key, HMAC-SHA256: the outbox
row keeps only the nonce (the sender derives the token as it sends), the token table keeps
only the token's SHA-256. Nobody with the database alone can follow a link, and a rotated key
retires the links in flight (they are short-lived anyway).
"""

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta

from auth.config import MailLinks
from models import email_tokens
from models.database import Connection, Executor
from models.email_tokens import Purpose
from models.types import utcnow

MAX_TOKEN_LENGTH = 128  # ours are 43 characters; anything far longer is not worth hashing


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def derive_token(key: str, nonce: str) -> str:
    mac = hmac.new(key.encode(), b"stockroom-mail-link:" + nonce.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def password_digest(hashed_password: str) -> str:
    """What the release before bound a reset token to (the stored hash); still written for it
    until every instance checks `password_version` instead."""
    return hashlib.sha256(b"stockroom-reset-binding:" + hashed_password.encode()).hexdigest()


async def issue(
    conn: Connection,
    links: MailLinks,
    *,
    user_id: int,
    purpose: Purpose,
    email: str,
    ttl: timedelta,
    password_digest: str | None = None,
    password_version: int | None = None,
) -> str:
    """Record a new link's token (by hash); the nonce its mail carries to the sender."""
    nonce = new_nonce()
    await email_tokens.create(
        conn,
        token_hash=token_hash(derive_token(links.key, nonce)),
        user_id=user_id,
        purpose=purpose,
        email=email,
        expires_at=utcnow() + ttl,
        password_digest=password_digest,
        password_version=password_version,
    )
    return nonce


async def find(db: Executor, token: str, purpose: Purpose) -> email_tokens.EmailToken | None:
    """The live token a link carried, or None (unknown, used, expired, or another kind)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return await email_tokens.get_live(db, token_hash(token), purpose)
