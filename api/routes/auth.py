from typing import Annotated

from fastapi import APIRouter, Body, Cookie, Form, Header, HTTPException, Request, Response, status
from fastapi.security.utils import get_authorization_scheme_param

from api.config import Settings
from api.deps import AuthConfigDep, SettingsDep
from api.responses import BODY_ERRORS, CONFLICT, OAUTH_ERROR, TOO_MANY, UNAUTHORIZED
from api.throttling import Throttle, ThrottleDep, account_key, address_key
from auth.config import AuthConfig
from auth.deps import unauthorized
from auth.errors import NO_STORE, OAuthError
from auth.sessions import (
    IssuedTokens,
    end_session,
    end_session_by_refresh_token,
    login,
    refresh,
)
from auth.tokens import InvalidTokenError
from models import crud
from models.database import Database, EngineDep
from models.password_policy import PASSWORD_MAX_LENGTH
from models.schemas import LogoutRequest, OAuthErrorBody, Token, UserCreate, UserPublic
from models.types import utcnow

router = APIRouter(prefix="/auth", tags=["auth"], responses=BODY_ERRORS)

REFRESH_COOKIE = "stockroom_refresh"
FormField = Annotated[str | None, Form()]
RefreshCookie = Annotated[str | None, Cookie(alias=REFRESH_COOKIE, include_in_schema=False)]
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
COOKIE_PATH = "/auth"
# Browsers cannot send a custom header cross-site without a CORS preflight that only our exact
# origins pass, so requiring one makes the cookie useless to a forged form post (CSRF).
BROWSER_HEADER = "X-Requested-With"


def too_many(what: str, wait: int) -> OAuthError:
    return OAuthError(
        "slow_down",
        f"{what} from here; try again in {wait} seconds.",
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"Retry-After": str(wait)},
    )


def _set_refresh_cookie(response: Response, settings: Settings, issued: IssuedTokens) -> None:
    max_age = int((issued.session_expires_at - utcnow()).total_seconds())
    response.set_cookie(
        REFRESH_COOKIE,
        issued.refresh_token,
        max_age=max(max_age, 0),
        path=COOKIE_PATH,
        secure=settings.REFRESH_COOKIE_SECURE,
        httponly=True,
        samesite=settings.REFRESH_COOKIE_SAMESITE,
    )


def _clear_refresh_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        REFRESH_COOKIE,
        path=COOKIE_PATH,
        secure=settings.REFRESH_COOKIE_SECURE,
        httponly=True,
        samesite=settings.REFRESH_COOKIE_SAMESITE,
    )


def _cleared_cookie_header(settings: Settings) -> str:
    """The Set-Cookie value that deletes the refresh cookie, for an error response."""
    response = Response()
    _clear_refresh_cookie(response, settings)
    return response.headers["set-cookie"]


@router.post(
    "/register",
    response_model=UserPublic,
    status_code=status.HTTP_201_CREATED,
    responses={**CONFLICT, **TOO_MANY},
)
async def register(
    request: Request, body: UserCreate, db: EngineDep, config: AuthConfigDep, throttle: ThrottleDep
) -> UserPublic:
    limit, address = throttle.limits.registrations_per_address, address_key(request)
    wait = await throttle.retry_after(limit, address)
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"Too many registrations from this address; try again in {wait} seconds.",
            headers={"Retry-After": str(wait)},
        )
    await throttle.hit(limit, address)
    hashed = await config.passwords.hash(body.password)  # before the write: short transactions
    async with db.begin() as conn:
        user = await crud.create_user(
            conn, email=body.email, hashed_password=hashed, full_name=body.full_name
        )
    return UserPublic.model_validate(user)


@router.post(
    "/token",
    response_model=Token,
    response_model_exclude_none=True,
    responses={**OAUTH_ERROR, 429: {"model": OAuthErrorBody, "description": "Too many attempts"}},
)
async def token(
    request: Request,
    response: Response,
    db: EngineDep,
    config: AuthConfigDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
    grant_type: FormField = None,
    username: FormField = None,
    password: FormField = None,
    scope: FormField = None,
    refresh_token: FormField = None,
    client_id: FormField = None,
    client_secret: FormField = None,
    user_agent: Annotated[str | None, Header(include_in_schema=False)] = None,
    browser: Annotated[str | None, Header(alias=BROWSER_HEADER, include_in_schema=False)] = None,
    cookie_token: RefreshCookie = None,
) -> Token:
    """OAuth2 token endpoint (RFC 6749): `password` and `refresh_token` grants, form-encoded.

    Every client is public: `client_id`/`client_secret` are accepted and ignored. Browsers send
    `X-Requested-With`; they get the refresh token as an HttpOnly cookie instead of in the body.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in FORM_TYPES:
        raise OAuthError(
            "invalid_request", "Send the token request as application/x-www-form-urlencoded."
        )
    browser_mode = bool(browser)
    if grant_type is None or grant_type == "password":
        issued = await _password_grant(
            request, db, config, throttle, username, password, scope, user_agent
        )
    elif grant_type == "refresh_token":
        presented = refresh_token or (cookie_token if browser_mode else None)
        try:
            issued = await _refresh_grant(request, db, config, throttle, presented, scope)
        except OAuthError as exc:
            if browser_mode and exc.error == "invalid_grant":
                exc.headers["set-cookie"] = _cleared_cookie_header(settings)
            raise
    else:
        raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported.")

    response.headers.update(NO_STORE)
    if browser_mode:
        _set_refresh_cookie(response, settings, issued)
    return Token(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        scope=issued.scope,
        refresh_token=None if browser_mode else issued.refresh_token,
    )


async def _password_grant(
    request: Request,
    db: Database,
    config: AuthConfig,
    throttle: Throttle,
    username: str | None,
    password: str | None,
    scope: str | None,
    user_agent: str | None,
) -> IssuedTokens:
    if not username or not password:
        raise OAuthError("invalid_request", "username and password are required.")
    if len(password) > PASSWORD_MAX_LENGTH:
        # No account can have such a password: refused before any throttle count or hash.
        raise OAuthError(
            "invalid_request", f"password is longer than {PASSWORD_MAX_LENGTH} characters."
        )
    limits = throttle.limits
    per_account = (limits.login_failures_per_account, account_key(username))
    per_address = (limits.login_failures_per_address, address_key(request))
    # Checked before the password is: a throttled guess costs us no hash and tells nothing.
    wait = max(
        await throttle.retry_after(*per_account) or 0,
        await throttle.retry_after(*per_address) or 0,
    )
    if wait:
        raise too_many("Too many failed logins", wait)
    try:
        return await login(
            db, config, email=username, password=password, scope=scope, user_agent=user_agent
        )
    except OAuthError as exc:
        if exc.error == "invalid_grant":
            await throttle.hit(*per_account)
            await throttle.hit(*per_address)
        raise


async def _refresh_grant(
    request: Request,
    db: Database,
    config: AuthConfig,
    throttle: Throttle,
    refresh_token: str | None,
    scope: str | None,
) -> IssuedTokens:
    if not refresh_token:
        raise OAuthError("invalid_request", "refresh_token is required.")
    limit, address = throttle.limits.refreshes_per_address, address_key(request)
    wait = await throttle.retry_after(limit, address)
    if wait:
        raise too_many("Too many refreshes", wait)
    await throttle.hit(limit, address)
    return await refresh(db, config, refresh_token=refresh_token, scope=scope)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=UNAUTHORIZED)
async def logout(
    request: Request,
    db: EngineDep,
    config: AuthConfigDep,
    settings: SettingsDep,
    body: Annotated[LogoutRequest | None, Body()] = None,
    cookie_token: RefreshCookie = None,
) -> Response:
    """End the current session: its access and refresh tokens stop working at once.

    Idempotent. Authenticate with the bearer access token (expired ones are accepted here), or
    send `{"refresh_token": ...}` if that is all the client holds.
    """
    scheme, bearer = get_authorization_scheme_param(request.headers.get("authorization"))
    refresh_token = (body.refresh_token if body else None) or cookie_token
    if scheme.lower() == "bearer" and bearer:
        try:
            claims = config.tokens.read_access_token(bearer, allow_expired=True)
        except InvalidTokenError as exc:
            raise unauthorized("The access token is invalid.") from exc
        await end_session(db, session_id=claims.session_id, user_id=claims.user_id)
    elif refresh_token:
        await end_session_by_refresh_token(db, refresh_token)
    else:
        raise unauthorized(
            "Send the access token, or the refresh token in the body.", token_sent=False
        )
    response = Response(status_code=status.HTTP_204_NO_CONTENT, headers=NO_STORE)
    _clear_refresh_cookie(response, settings)
    return response
