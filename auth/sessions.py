"""Login sessions: open one with a password, keep it alive with rotating refresh tokens, end it."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from auth.config import AuthConfig
from auth.errors import OAuthError, UnverifiedEmail, WrongPassword, invalid_grant
from auth.passwords import UNGUARDED, Guard
from auth.scopes import SCOPES
from auth.tokens import hash_refresh_token, new_refresh_token, new_session_id
from models import sessions, users
from models.database import Connection, Database
from models.sessions import AuthSession
from models.types import utcnow
from models.users import User


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    scope: str
    session_expires_at: datetime


def parse_scope(
    requested: str | None, granted: frozenset[str] = frozenset(SCOPES)
) -> frozenset[str]:
    """RFC 6749 §3.3 and §6: no scope means all that was granted; more than that is refused."""
    if requested is None or not requested.strip():
        return granted
    scopes = frozenset(requested.split())
    unknown = scopes - frozenset(SCOPES)
    if unknown:
        raise OAuthError("invalid_scope", f"Unknown scope: {' '.join(sorted(unknown))}.")
    wider = scopes - granted
    if wider:
        raise OAuthError(
            "invalid_scope", f"Scope not granted to this session: {' '.join(sorted(wider))}."
        )
    return scopes


def session_problem(
    auth_session: AuthSession, user: User, *, idle_timeout: timedelta | None = None
) -> str | None:
    """Why this session may not be used any more, or None if it is live."""
    now = utcnow()
    if auth_session.revoked_at is not None:
        return "This session has ended; log in again."
    if auth_session.expires_at <= now:
        return "This session has expired; log in again."
    if idle_timeout is not None and auth_session.last_used_at + idle_timeout <= now:
        return "This session was idle too long; log in again."
    if not user.is_active:
        return "This account is disabled."
    return None


def _issue(
    config: AuthConfig, auth_session: AuthSession, scopes: frozenset[str], refresh_token: str
) -> IssuedTokens:
    return IssuedTokens(
        access_token=config.tokens.issue_access_token(
            user_id=auth_session.user_id, session_id=auth_session.id, scopes=scopes
        ),
        refresh_token=refresh_token,
        expires_in=config.tokens.access_ttl_seconds,
        scope=" ".join(sorted(scopes)),
        session_expires_at=auth_session.expires_at,
    )


async def login(
    db: Database,
    config: AuthConfig,
    *,
    email: str,
    password: str,
    scope: str | None,
    user_agent: str | None,
    guard: Guard = UNGUARDED,
) -> IssuedTokens:
    scopes = parse_scope(scope)
    user = await users.get_by_email(db, email)  # no connection is held across the hash
    try:
        new_hash = await config.passwords.check(
            password, user.hashed_password if user is not None else None, guard=guard
        )
    except WrongPassword:
        raise invalid_grant() from None
    if user is None or not user.is_active:
        raise invalid_grant()
    if config.require_verified_email and not user.email_verified:
        raise UnverifiedEmail()  # only now: before the password, it would say who has an account

    refresh_token = new_refresh_token()
    async with db.transaction() as conn:
        # The password verified above must still be the account's as the session opens: a
        # reset or change that came meanwhile wins, and its rehash is not written over it.
        if not await users.confirm_password(
            conn,
            user.id,
            new_hash or user.hashed_password,
            password_version=user.password_version,
        ):
            raise invalid_grant()
        auth_session = await sessions.create(
            conn,
            session_id=new_session_id(),
            user_id=user.id,
            scope=" ".join(sorted(scopes)),
            expires_at=utcnow() + config.session_lifetime,
            user_agent=user_agent,
            refresh_token_hash=hash_refresh_token(refresh_token),
        )
    return _issue(config, auth_session, scopes, refresh_token)


async def refresh(
    db: Database, config: AuthConfig, *, refresh_token: str, scope: str | None
) -> IssuedTokens:
    """RFC 6749 §6 with rotation: the presented token is spent, a new one is issued."""
    async with db.transaction() as conn:
        outcome = await _rotate(conn, config, refresh_token=refresh_token, scope=scope)
    # Raised after the commit: a reused token's session stays revoked, a useless token spent.
    if isinstance(outcome, OAuthError):
        raise outcome
    return outcome


async def _rotate(
    conn: Connection, config: AuthConfig, *, refresh_token: str, scope: str | None
) -> IssuedTokens | OAuthError:
    """One transaction. Returns the refusal to commit; raises the ones to roll back."""
    token_hash = hash_refresh_token(refresh_token)
    session_id = await sessions.session_of_refresh_token(conn, token_hash)
    if session_id is None:
        raise OAuthError("invalid_grant", "The refresh token is invalid or has expired.")
    await sessions.lock(conn, session_id)
    if await sessions.spend_refresh_token(conn, token_hash) is None:
        spent_at = await sessions.last_spent_at(conn, token_hash)
        if spent_at is None or utcnow() - spent_at > config.refresh_reuse_grace:
            # Reuse of a spent token (RFC 9700 §4.14.2): someone holds a copy. End the family.
            await sessions.revoke(conn, session_id)
            return OAuthError(
                "invalid_grant", "This refresh token was already used; the session has been ended."
            )
        # The session's last spent token, spent moments ago (a retry whose answer was lost, two
        # tabs): a new pair replaces the live one, so the session still holds one chain, and
        # whoever holds the replaced token is caught as reuse at its next refresh.
        await sessions.spend_live_refresh_tokens(conn, session_id)

    found = await sessions.get_with_user(conn, session_id)
    assert found is not None  # the foreign key guarantees it
    auth_session, user = found
    problem = session_problem(auth_session, user, idle_timeout=config.session_idle_timeout)
    if problem is not None:
        return OAuthError("invalid_grant", problem)
    # Raised, so rolled back: a bad request does not cost the client its refresh token.
    scopes = parse_scope(scope, frozenset(auth_session.scope.split()))

    new_token = new_refresh_token()
    await sessions.add_refresh_token(
        conn, session_id=session_id, token_hash=hash_refresh_token(new_token)
    )
    return _issue(config, auth_session, scopes, new_token)


async def end_session_by_refresh_token(db: Database, refresh_token: str) -> None:
    """Logout for clients that hold only a refresh token. Unknown tokens are ignored."""
    async with db.transaction() as conn:
        session_id = await sessions.session_of_refresh_token(
            conn, hash_refresh_token(refresh_token)
        )
        if session_id is not None:
            await sessions.revoke(conn, session_id)


async def end_session(db: Database, *, session_id: str, user_id: int) -> bool:
    return await sessions.revoke(db, session_id, user_id=user_id)
