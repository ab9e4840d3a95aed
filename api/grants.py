"""The OAuth2 token endpoint's grants (RFC 6749 §4.3 and §6): the form, and one function each."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Cookie, Depends, Form, Header, Request, status

from api.throttling import Throttle, Throttled, address_key, password_rules
from auth.config import AuthConfig
from auth.errors import OAuthError
from auth.sessions import IssuedTokens, login, refresh
from models.database import Database
from models.password_policy import PASSWORD_MAX_LENGTH
from models.schemas import normalise_email

REFRESH_COOKIE = "stockroom_refresh"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Browsers cannot send a custom header cross-site without a CORS preflight that only our exact
# origins pass, so requiring one makes the cookie useless to a forged form post (CSRF).
BROWSER_HEADER = "X-Requested-With"

FormField = Annotated[str | None, Form()]


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A token request as the grants read it, whatever shape it came in."""

    grant_type: str
    username: str | None
    password: str | None
    scope: str | None
    refresh_token: str | None
    user_agent: str | None
    address: str
    browser: bool  # the refresh token travels in an HttpOnly cookie, not in the body


async def read_token_request(
    request: Request,
    grant_type: FormField = None,
    username: FormField = None,
    password: FormField = None,
    scope: FormField = None,
    refresh_token: FormField = None,
    # Every client is public: a client id and secret (Swagger UI sends empty ones) are ignored.
    client_id: FormField = None,
    client_secret: FormField = None,
    user_agent: Annotated[str | None, Header(include_in_schema=False)] = None,
    browser: Annotated[str | None, Header(alias=BROWSER_HEADER, include_in_schema=False)] = None,
    cookie: Annotated[str | None, Cookie(alias=REFRESH_COOKIE, include_in_schema=False)] = None,
) -> TokenRequest:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in FORM_TYPES:
        raise OAuthError(
            "invalid_request", "Send the token request as application/x-www-form-urlencoded."
        )
    return TokenRequest(
        grant_type=grant_type or "password",
        username=normalise_email(username) if username else None,
        password=password,
        scope=scope,
        refresh_token=refresh_token or (cookie if browser else None),
        user_agent=user_agent,
        address=address_key(request),
        browser=bool(browser),
    )


TokenForm = Annotated[TokenRequest, Depends(read_token_request)]


def too_many(what: str, throttled: Throttled) -> OAuthError:
    wait = throttled.retry_after
    return OAuthError(
        "slow_down",
        f"{what} from here; try again in {wait} seconds.",
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"Retry-After": str(wait)},
    )


async def password_grant(
    form: TokenRequest, db: Database, auth: AuthConfig, throttle: Throttle
) -> IssuedTokens:
    if not form.username or not form.password:
        raise OAuthError("invalid_request", "username and password are required.")
    if len(form.password) > PASSWORD_MAX_LENGTH:
        # No account can have such a password: refused before any throttle count or hash.
        raise OAuthError(
            "invalid_request", f"password is longer than {PASSWORD_MAX_LENGTH} characters."
        )
    rules = password_rules(throttle.limits, address=form.address, email=form.username)
    try:
        return await login(
            db,
            auth,
            email=form.username,
            password=form.password,
            scope=form.scope,
            user_agent=form.user_agent,
            guard=throttle.guess(*rules),
        )
    except Throttled as exc:
        raise too_many("Too many failed logins", exc) from None


async def refresh_grant(
    form: TokenRequest, db: Database, auth: AuthConfig, throttle: Throttle
) -> IssuedTokens:
    if not form.refresh_token:
        raise OAuthError("invalid_request", "refresh_token is required.")
    try:
        await throttle.take((throttle.limits.REFRESH_LIMIT_PER_ADDRESS, form.address))
    except Throttled as exc:
        raise too_many("Too many refreshes", exc) from None
    return await refresh(db, auth, refresh_token=form.refresh_token, scope=form.scope)


Grant = Callable[[TokenRequest, Database, AuthConfig, Throttle], Awaitable[IssuedTokens]]
GRANTS: dict[str, Grant] = {"password": password_grant, "refresh_token": refresh_grant}
