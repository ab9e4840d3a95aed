"""The current-user dependency: bearer token → session row → user, in one query."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import OAuth2PasswordBearer, SecurityScopes

from auth.config import AuthConfig
from auth.scopes import SCOPES
from auth.sessions import session_problem
from auth.tokens import InvalidTokenError
from models.crud import get_session_with_user
from models.database import Database
from models.tables import AuthSession, User

# auto_error=False: a missing token must get our RFC 6750 challenge and JSON body, not FastAPI's.
oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="auth/token", scopes=SCOPES, auto_error=False, refreshUrl="auth/token"
)


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


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, through which login session, with which scopes."""

    user: User
    session: AuthSession
    scopes: frozenset[str]


async def authenticate(
    security_scopes: SecurityScopes, request: Request, token: str | None
) -> Principal:
    # Read from app.state directly rather than through two more dependencies: this runs on
    # every authenticated request, and each dependency level costs FastAPI real time.
    config: AuthConfig = request.app.state.auth
    engine: Database = request.app.state.engine
    if not token:
        raise unauthorized(
            "Not authenticated: send 'Authorization: Bearer <token>'.", token_sent=False
        )
    try:
        claims = config.tokens.read_access_token(token)
    except InvalidTokenError as exc:
        raise unauthorized("The access token is invalid or has expired.") from exc

    async with engine.connect() as conn:
        found = await get_session_with_user(
            conn, session_id=claims.session_id, user_id=claims.user_id
        )
    if found is None:
        raise unauthorized("The access token is invalid or has expired.")
    auth_session, user = found
    problem = session_problem(auth_session, user)
    if problem is not None:
        raise unauthorized(problem)

    missing = [scope for scope in security_scopes.scopes if scope not in claims.scopes]
    if missing:
        needed = " ".join(security_scopes.scopes)
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"This token lacks the scope {' '.join(missing)!r} that the request needs.",
            headers={
                "WWW-Authenticate": bearer_challenge(
                    "insufficient_scope", "The access token lacks a required scope.", needed
                )
            },
        )
    return Principal(user=user, session=auth_session, scopes=claims.scopes)


# Two dependencies over one function rather than one on top of the other, for the same reason.
async def get_principal(
    security_scopes: SecurityScopes,
    request: Request,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    return await authenticate(security_scopes, request, token)


async def get_current_user(
    security_scopes: SecurityScopes,
    request: Request,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> User:
    return (await authenticate(security_scopes, request, token)).user


CurrentUser = Annotated[User, Security(get_current_user)]
ProductReader = Annotated[User, Security(get_current_user, scopes=["products:read"])]
ProductWriter = Annotated[User, Security(get_current_user, scopes=["products:write"])]
AccountOwner = Annotated[Principal, Security(get_principal, scopes=["account"])]
