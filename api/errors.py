"""One JSON error contract: RFC 6749 §5.2 at the token endpoint, `{"detail": ...}` elsewhere."""

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.throttling import Throttled
from auth.errors import NO_STORE, CredentialsChanged, InvalidLink, OAuthError, WrongPassword
from models.errors import DatabaseUnavailable, EmailTaken
from models.password_policy import PasswordRejected

logger = logging.getLogger("stockroom")

# What a client is told to wait while the database is unreachable.
DATABASE_RETRY_AFTER_S = 5


def _is_token_endpoint(request: Request) -> bool:
    return request.url.path.endswith("/auth/token")


def oauth_error_response(exc: OAuthError) -> JSONResponse:
    return JSONResponse(
        {"error": exc.error, "error_description": exc.description},
        status_code=exc.status_code,
        headers={**NO_STORE, **exc.headers},
    )


def unprocessable(errors: list[dict[str, Any]]) -> JSONResponse:
    # FastAPI's default echoes each `input` back: that can be a password, or a float like 1e400
    # that JSON cannot encode (a 500). Location, type and message are what a client needs.
    detail = [{"type": e["type"], "loc": list(e["loc"]), "msg": e["msg"]} for e in errors]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _oauth_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OAuthError)
    return oauth_error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if _is_token_endpoint(request):
        first = errors[0] if errors else {}
        field = ".".join(str(part) for part in first.get("loc", ())[1:]) or "request"
        return oauth_error_response(
            OAuthError("invalid_request", f"{field}: {first.get('msg', 'invalid value')}")
        )
    return unprocessable(errors)


async def _password_rejected(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PasswordRejected)
    return unprocessable([{"type": "value_error", "loc": ("body", exc.field), "msg": exc.problem}])


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == status.HTTP_400_BAD_REQUEST and _is_token_endpoint(request):
        # e.g. a form body that is not UTF-8: still an RFC 6749 answer at the token endpoint
        return oauth_error_response(OAuthError("invalid_request", str(exc.detail)))
    return await http_exception_handler(request, exc)


async def _email_taken(_request: Request, _exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": "An account with this e-mail address already exists."},
        status_code=status.HTTP_409_CONFLICT,
    )


async def _invalid_link(_request: Request, _exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": "This link has expired or was already used; ask for a new one."},
        status_code=status.HTTP_400_BAD_REQUEST,
    )


async def _throttled(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Throttled)
    wait = exc.retry_after
    return JSONResponse(
        {"detail": f"Too many requests of this kind from here; try again in {wait} seconds."},
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"Retry-After": str(wait)},
    )


async def _wrong_password(_request: Request, _exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": "The current password is wrong."}, status_code=status.HTTP_400_BAD_REQUEST
    )


async def _credentials_changed(_request: Request, _exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": "The password was changed by another request meanwhile; log in again."},
        status_code=status.HTTP_409_CONFLICT,
    )


async def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    logger.warning("database unavailable: %s", exc)
    return JSONResponse(
        {"detail": "The database is unavailable; retry shortly."},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )


async def _unhandled(_request: Request, _exc: Exception) -> JSONResponse:
    # Starlette re-raises after this handler, so the server logs the traceback once.
    return JSONResponse(
        {"detail": "Internal server error; it has been logged."},
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(OAuthError, _oauth_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(PasswordRejected, _password_rejected)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(EmailTaken, _email_taken)
    app.add_exception_handler(InvalidLink, _invalid_link)
    app.add_exception_handler(Throttled, _throttled)
    app.add_exception_handler(WrongPassword, _wrong_password)
    app.add_exception_handler(CredentialsChanged, _credentials_changed)
    app.add_exception_handler(DatabaseUnavailable, _database_unavailable)
    app.add_exception_handler(Exception, _unhandled)
