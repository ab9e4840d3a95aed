"""The current-user dependency: bearer token → session row → user, in one query."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Security, status
from fastapi.security import OAuth2PasswordBearer, SecurityScopes

from auth.config import AuthConfigDep
from auth.scopes import SCOPES
from auth.sessions import session_problem
from auth.tokens import InvalidTokenError
from models import sessions
from models.deps import DatabaseDep
from models.sessions import AuthSession
from models.users import User

# auto_error=False: a missing token must get our RFC 6750 challenge and JSON body, not FastAPI's.
oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="auth/token", scopes=SCOPES, auto_error=False, refreshUrl="auth/token"
)
BearerToken = Annotated[str | None, Depends(oauth2_scheme)]


def bearer_challenge(
    error: str | None = None, description: str | None = None, scope: str | None = None
) -> str:
    """An RFC 6750 §3 `WWW-Authenticate` value."""
    params = [
        f'{name}="{value}"'
        for name, value in (("error", error), ("error_description", description), ("scope", scope))
        if value
    ]
    return "Bearer " + ", ".join(params) if params else "Bearer"


def unauthorized(description: str, *, token_sent: bool = True) -> HTTPException:
    challenge = bearer_challenge("invalid_token", description) if token_sent else bearer_challenge()
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=description, headers={"WWW-Authenticate": challenge}
    )


def insufficient_scope(needed: list[str], missing: list[str]) -> HTTPException:
    return HTTPException(
        status.HTTP_403_FORBIDDEN,
        detail=f"This token lacks the scope {' '.join(missing)!r} that the request needs.",
        headers={
            "WWW-Authenticate": bearer_challenge(
                "insufficient_scope", "The access token lacks a required scope.", " ".join(needed)
            )
        },
    )


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, and through which login session."""

    user: User
    session: AuthSession


async def get_principal(
    security_scopes: SecurityScopes, token: BearerToken, db: DatabaseDep, auth: AuthConfigDep
) -> Principal:
    if not token:
        raise unauthorized(
            "Not authenticated: send 'Authorization: Bearer <token>'.", token_sent=False
        )
    try:
        claims = auth.tokens.read_access_token(token)
    except InvalidTokenError as exc:
        raise unauthorized("The access token is invalid or has expired.") from exc
    # A connection of its own, for one statement: the route may go on to hash a password, and
    # no connection is held across that.
    async with db.connection() as conn:
        found = await sessions.get_with_user(conn, claims.session_id, user_id=claims.user_id)
    if found is None:
        raise unauthorized("The access token is invalid or has expired.")
    auth_session, user = found
    problem = session_problem(auth_session, user)
    if problem is not None:
        raise unauthorized(problem)
    missing = [scope for scope in security_scopes.scopes if scope not in claims.scopes]
    if missing:
        raise insufficient_scope(security_scopes.scopes, missing)
    return Principal(user=user, session=auth_session)


async def get_current_user(principal: Annotated[Principal, Security(get_principal)]) -> User:
    return principal.user


CurrentUser = Annotated[User, Security(get_current_user)]
ProductReader = Annotated[User, Security(get_current_user, scopes=["products:read"])]
ProductWriter = Annotated[User, Security(get_current_user, scopes=["products:write"])]
AccountOwner = Annotated[Principal, Security(get_principal, scopes=["account"])]
