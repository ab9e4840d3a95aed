"""One JSON error contract: RFC 6749 §5.2 at the token endpoint, `{"detail": ...}` elsewhere."""

import logging

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.middleware import body_too_large
from auth.errors import NO_STORE, OAuthError
from models.crud import EmailTakenError

logger = logging.getLogger("stockroom")


def _is_token_endpoint(request: Request) -> bool:
    return request.url.path.endswith("/auth/token")


def oauth_error_response(exc: OAuthError) -> JSONResponse:
    return JSONResponse(
        {"error": exc.error, "error_description": exc.description},
        status_code=exc.status_code,
        headers={**NO_STORE, **exc.headers},
    )


async def _oauth_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OAuthError)
    return oauth_error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if _is_token_endpoint(request):
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(part) for part in first.get("loc", ())[1:]) or "request"
        return oauth_error_response(
            OAuthError("invalid_request", f"{field}: {first.get('msg', 'invalid value')}")
        )
    # FastAPI's default echoes each `input` back: that can be a password, or a float like 1e400
    # that JSON cannot encode (a 500). Location, type and message are what a client needs.
    detail = [{"type": e["type"], "loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == status.HTTP_400_BAD_REQUEST and _is_token_endpoint(request):
        # e.g. a form body that is not UTF-8: still an RFC 6749 answer at the token endpoint
        return oauth_error_response(OAuthError("invalid_request", str(exc.detail)))
    if exc.status_code == status.HTTP_413_CONTENT_TOO_LARGE:
        # A chunked body counted past the limit: the same words as a declared one gets.
        limit = request.app.state.settings.MAX_BODY_BYTES
        return JSONResponse({"detail": body_too_large(limit)}, status_code=exc.status_code)
    return await http_exception_handler(request, exc)


async def _email_taken(_request: Request, _exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": "An account with this e-mail address already exists."},
        status_code=status.HTTP_409_CONFLICT,
    )


DATABASE_RETRY_AFTER_S = 5


async def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    outage = not isinstance(exc, DBAPIError) or (
        isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated
    )
    if not outage:
        raise exc  # a real bug (bad data, broken SQL), not an outage: a logged 500
    logger.warning("database unavailable: %s", type(exc).__name__)
    return JSONResponse(
        {"detail": "The database is unavailable; retry shortly."},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )


async def _unhandled(_request: Request, _exc: Exception) -> JSONResponse:
    # Starlette re-raises after this handler, so the server logs the traceback once.
    return JSONResponse(
        jsonable_encoder({"detail": "Internal server error; it has been logged."}),
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(OAuthError, _oauth_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(EmailTakenError, _email_taken)
    # Connection refused, dropped or timed out, or no pooled connection free in time.
    for error in (OperationalError, InterfaceError, SQLAlchemyTimeoutError, DBAPIError):
        app.add_exception_handler(error, _database_unavailable)
    app.add_exception_handler(Exception, _unhandled)
