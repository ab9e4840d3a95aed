from typing import Annotated

from fastapi import APIRouter, Body, Cookie, Request, Response, status
from fastapi.security.utils import get_authorization_scheme_param

from api.config import Settings
from api.deps import SettingsDep, ThrottleDep
from api.errors import OAuthRoute
from api.grants import BROWSER_HEADER, GRANTS, REFRESH_COOKIE, TokenForm
from api.responses import BODY_ERRORS, CONFLICT, OAUTH_ERROR, TOO_MANY, UNAUTHORIZED
from api.throttling import address_key
from auth import accounts
from auth.config import AuthConfigDep
from auth.deps import unauthorized
from auth.errors import NO_STORE, OAuthError
from auth.sessions import IssuedTokens, end_session, end_session_by_refresh_token
from auth.tokens import InvalidTokenError
from models.deps import DatabaseDep
from models.schemas import LogoutRequest, OAuthErrorBody, Token, UserCreate, UserPublic
from models.types import utcnow

router = APIRouter(prefix="/auth", tags=["auth"], responses=BODY_ERRORS)
# The token endpoint answers OAuth clients: RFC 6749 errors only, whatever fails.
token_router = APIRouter(prefix="/auth", tags=["auth"], route_class=OAuthRoute)

COOKIE_PATH = "/auth"
RefreshCookie = Annotated[str | None, Cookie(alias=REFRESH_COOKIE, include_in_schema=False)]


def _refresh_cookie(response: Response, settings: Settings, issued: IssuedTokens | None) -> None:
    """Set the browser's refresh cookie to the new token, or expire it (None)."""
    if issued is None:
        value, max_age, expires = "", 0, 0  # as Starlette's delete_cookie writes it
    else:
        lifetime = int((issued.session_expires_at - utcnow()).total_seconds())
        value, max_age, expires = issued.refresh_token, max(0, lifetime), None
    response.set_cookie(
        REFRESH_COOKIE,
        value,
        max_age=max_age,
        expires=expires,
        path=COOKIE_PATH,
        secure=settings.REFRESH_COOKIE_SECURE,
        httponly=True,
        samesite=settings.REFRESH_COOKIE_SAMESITE,
    )


@router.post(
    "/register",
    response_model=UserPublic,
    status_code=status.HTTP_201_CREATED,
    responses={**CONFLICT, **TOO_MANY},
)
async def register(
    request: Request, body: UserCreate, db: DatabaseDep, auth: AuthConfigDep, throttle: ThrottleDep
) -> UserPublic:
    await throttle.take((throttle.limits.REGISTRATION_LIMIT_PER_ADDRESS, address_key(request)))
    return UserPublic.model_validate(await accounts.register(db, auth, body))


@token_router.post(
    "/token",
    response_model=Token,
    response_model_exclude_none=True,
    responses={**OAUTH_ERROR, 429: {"model": OAuthErrorBody, "description": "Too many attempts"}},
)
async def token(
    form: TokenForm,
    response: Response,
    db: DatabaseDep,
    auth: AuthConfigDep,
    throttle: ThrottleDep,
    settings: SettingsDep,
) -> Token:
    """OAuth2 token endpoint (RFC 6749): `password` and `refresh_token` grants, form-encoded.

    Every client is public: `client_id`/`client_secret` are accepted and ignored. Browsers send
    `X-Requested-With`; they get the refresh token as an HttpOnly cookie instead of in the body.
    """
    grant = GRANTS.get(form.grant_type)
    if grant is None:
        raise OAuthError(
            "unsupported_grant_type", f"grant_type {form.grant_type!r} is not supported."
        )
    try:
        issued = await grant(form, db, auth, throttle)
    except OAuthError as exc:
        if form.browser and form.grant_type == "refresh_token" and exc.error == "invalid_grant":
            cleared = Response()
            _refresh_cookie(cleared, settings, None)
            exc.headers["set-cookie"] = cleared.headers["set-cookie"]
        raise
    response.headers.update(NO_STORE)
    if form.browser:
        _refresh_cookie(response, settings, issued)
    return Token(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        scope=issued.scope,
        refresh_token=None if form.browser else issued.refresh_token,
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=UNAUTHORIZED)
async def logout(
    request: Request,
    db: DatabaseDep,
    auth: AuthConfigDep,
    settings: SettingsDep,
    body: Annotated[LogoutRequest | None, Body()] = None,
    cookie_token: RefreshCookie = None,
) -> Response:
    """End the current session: its access and refresh tokens stop working at once.

    Idempotent. Authenticate with the bearer access token (expired ones are accepted here), or
    send `{"refresh_token": ...}` if that is all the client holds. A browser's refresh cookie
    counts only with `X-Requested-With`, as at the token endpoint.
    """
    scheme, bearer = get_authorization_scheme_param(request.headers.get("authorization"))
    # The cookie only with the header that refresh needs too: a forged cross-site (or sibling
    # subdomain) post cannot send it, so it cannot end the session.
    browser = BROWSER_HEADER in request.headers
    refresh_token = (body.refresh_token if body else None) or (cookie_token if browser else None)
    if scheme.lower() == "bearer" and bearer:
        try:
            claims = auth.tokens.read_access_token(bearer, allow_expired=True)
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
    _refresh_cookie(response, settings, None)
    return response
