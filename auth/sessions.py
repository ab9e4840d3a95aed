"""Login sessions: open one with a password, and the tokens that belong to it."""

from dataclasses import dataclass

from auth.config import AuthConfig
from auth.deps import SCOPES
from auth.errors import OAuthError, invalid_grant
from auth.tokens import new_session_id
from models import crud
from models.types import utcnow
from sqlmodel.ext.asyncio.session import AsyncSession


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    scope: str
    refresh_token: str | None = None


def parse_scope(requested: str | None, allowed: frozenset[str] = frozenset(SCOPES)) -> frozenset[str]:
    """RFC 6749 §3.3: no scope means everything the client may have; unknown ones are refused."""
    if requested is None or not requested.strip():
        return allowed
    scopes = frozenset(requested.split())
    unknown = scopes - frozenset(SCOPES)
    if unknown:
        raise OAuthError("invalid_scope", f"Unknown scope: {' '.join(sorted(unknown))}.")
    return scopes & allowed


async def login(
    db: AsyncSession,
    config: AuthConfig,
    *,
    email: str,
    password: str,
    scopes: frozenset[str],
    user_agent: str | None,
) -> IssuedTokens:
    user = await crud.get_user_by_email(db, email.strip())
    await db.close()  # never hold a connection through a password hash
    valid, new_hash = await config.passwords.verify(
        password, user.hashed_password if user is not None else None
    )
    if user is None or not valid or not user.is_active:
        raise invalid_grant()
    assert user.id is not None
    if new_hash is not None:
        await crud.set_password_hash(db, user.id, new_hash)

    auth_session = await crud.create_auth_session(
        db,
        session_id=new_session_id(),
        user_id=user.id,
        scope=" ".join(sorted(scopes)),
        expires_at=utcnow() + config.session_lifetime,
        user_agent=user_agent,
    )
    return IssuedTokens(
        access_token=config.tokens.issue_access_token(
            user_id=user.id, session_id=auth_session.id, scopes=scopes
        ),
        expires_in=config.tokens.access_ttl_seconds,
        scope=auth_session.scope,
    )
