from typing import Annotated

from fastapi import APIRouter, Depends, Form, Header, Request, Response, status

from api.responses import CONFLICT, OAUTH_ERROR
from auth.config import AuthConfig, get_auth_config
from auth.errors import NO_STORE, OAuthError
from auth.sessions import login, parse_scope
from models import crud
from models.database import SessionDep
from models.schemas import Token, UserCreate, UserPublic

router = APIRouter(prefix="/auth", tags=["auth"])

AuthConfigDep = Annotated[AuthConfig, Depends(get_auth_config)]
FormField = Annotated[str | None, Form()]
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@router.post(
    "/register",
    response_model=UserPublic,
    status_code=status.HTTP_201_CREATED,
    responses=CONFLICT,
)
async def register(body: UserCreate, db: SessionDep, config: AuthConfigDep) -> UserPublic:
    hashed = await config.passwords.hash(body.password)  # before the write: short transactions
    user = await crud.create_user(
        db, email=body.email, hashed_password=hashed, full_name=body.full_name
    )
    return UserPublic.model_validate(user)


@router.post("/token", response_model=Token, responses=OAUTH_ERROR)
async def token(
    request: Request,
    response: Response,
    db: SessionDep,
    config: AuthConfigDep,
    grant_type: FormField = None,
    username: FormField = None,
    password: FormField = None,
    scope: FormField = None,
    client_id: FormField = None,
    client_secret: FormField = None,
    user_agent: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Token:
    """OAuth2 token endpoint (RFC 6749 §4.3): the resource owner password grant.

    Form-encoded. `client_id`/`client_secret` are accepted and ignored: every client is public.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in FORM_TYPES:
        raise OAuthError(
            "invalid_request", "Send the token request as application/x-www-form-urlencoded."
        )
    if grant_type is None or grant_type == "password":
        if not username or not password:
            raise OAuthError("invalid_request", "username and password are required.")
        issued = await login(
            db,
            config,
            email=username,
            password=password,
            scopes=parse_scope(scope),
            user_agent=user_agent,
        )
    else:
        raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported.")
    response.headers.update(NO_STORE)
    return Token(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        scope=issued.scope,
        refresh_token=issued.refresh_token,
    )
