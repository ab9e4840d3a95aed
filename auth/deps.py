"""The current-user dependency: a bearer credential → its row → the user, in one query.

Two kinds of credential, told apart by their prefix: an access JWT from a login names its
session row; a personal access token (`stk_pat_...`) names its own row. Either way revocation
is seen at once, by every worker.
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import OAuth2PasswordBearer, SecurityScopes

from auth import personal_tokens
from auth.config import AuthConfig, AuthState
from auth.scopes import SCOPES
from auth.sessions import session_problem
from auth.tokens import InvalidTokenError
from models import access_tokens, sessions
from models.access_tokens import AccessToken
from models.database import Database
from models.deps import app_state
from models.sessions import AuthSession
from models.types import utcnow
from models.users import User

# auto_error=False: a missing token must get our RFC 6750 challenge and JSON body, not FastAPI's.
oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="auth/token", scopes=SCOPES, auto_error=False, refreshUrl="auth/token"
)
BearerToken = Annotated[str | None, Depends(oauth2_scheme)]
# Personal access tokens come in the same header, read once above. For the docs they are a
# second security scheme (api/docs.py adds it to the routes they may call), not a second
# dependency, which every request would pay for (bench/README.md).
PERSONAL_TOKEN_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "A personal access token (`stk_pat_...`) from `POST /users/me/tokens`.",
}


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
    """Who is calling, with which scopes, through a login session or a personal token."""

    user: User
    scopes: frozenset[str]
    session: AuthSession | None = None
    access_token: AccessToken | None = None


@dataclass(frozen=True, slots=True)
class Login:
    """A caller who logged in with the password: the only kind that may manage the account."""

    user: User
    session: AuthSession


INVALID = "The access token is invalid or has expired."


async def _by_session(db: Database, auth: AuthConfig, token: str) -> Principal:
    try:
        claims = auth.tokens.read_access_token(token)
    except InvalidTokenError as exc:
        raise unauthorized(INVALID) from exc
    found = await sessions.get_with_user(db, claims.session_id, user_id=claims.user_id)
    if found is None:
        raise unauthorized(INVALID)
    auth_session, user = found
    problem = session_problem(auth_session, user)
    if problem is not None:
        raise unauthorized(problem)
    return Principal(user, claims.scopes, session=auth_session)


async def _by_personal_token(db: Database, token: str) -> Principal:
    if not personal_tokens.well_formed(token):
        raise unauthorized(INVALID)
    found = await access_tokens.get_with_user(db, personal_tokens.token_hash(token))
    if found is None:
        raise unauthorized(INVALID)
    access_token, user = found
    if access_token.revoked_at is not None or access_token.expires_at <= utcnow():
        raise unauthorized(INVALID)
    if not user.is_active:
        raise unauthorized("This account is disabled.")
    await access_tokens.note_use(db, access_token)
    return Principal(user, frozenset(access_token.scope.split()), access_token=access_token)


# The two dependencies below share this function, which reads the database and the auth
# settings from the app's state itself: as a dependency of its own, with those two as its
# dependencies, it cost every authenticated request a measurable share of its CPU
# (bench/README.md, "What the request path does, and why").
async def _principal(
    security_scopes: SecurityScopes, token: str | None, request: Request
) -> Principal:
    state = app_state(request.app, AuthState)
    db, auth = state.database, state.auth
    if not token:
        raise unauthorized(
            "Not authenticated: send 'Authorization: Bearer <token>'.", token_sent=False
        )
    if personal_tokens.is_personal_token(token):
        principal = await _by_personal_token(db, token)
    else:
        principal = await _by_session(db, auth, token)
    missing = [scope for scope in security_scopes.scopes if scope not in principal.scopes]
    if missing:
        raise insufficient_scope(security_scopes.scopes, missing)
    return principal


async def get_current_user(
    security_scopes: SecurityScopes, token: BearerToken, request: Request
) -> User:
    return (await _principal(security_scopes, token, request)).user


async def get_login(security_scopes: SecurityScopes, token: BearerToken, request: Request) -> Login:
    principal = await _principal(security_scopes, token, request)
    # Only a password login is ever granted the account scope; personal tokens never are.
    assert principal.session is not None
    return Login(principal.user, principal.session)


CurrentUser = Annotated[User, Security(get_current_user)]
ProductReader = Annotated[User, Security(get_current_user, scopes=["products:read"])]
ProductWriter = Annotated[User, Security(get_current_user, scopes=["products:write"])]
AccountOwner = Annotated[Login, Security(get_login, scopes=["account"])]
