"""One error contract, chosen by the exception's type, never by the URL.

`OAuthError` is an RFC 6749 §5.2 answer; the token endpoint's route (`OAuthRoute`) turns any
failure of its request into one. Everything else is an RFC 9457 problem (`api/problems.py`):
domain errors from `auth` and `models` are mapped here, once, to a status and a problem type.
"""

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from api.cursors import InvalidCursor
from api.idempotency import IdempotencyKeyInFlight, IdempotencyKeyReused
from api.preconditions import PreconditionFailed, PreconditionRequired
from api.problems import (
    ALREADY_VERIFIED,
    CREDENTIALS_CHANGED,
    EMAIL_TAKEN,
    IDEMPOTENCY_KEY_IN_FLIGHT,
    IDEMPOTENCY_KEY_REUSED,
    INVALID_LINK,
    PRECONDITION_FAILED,
    PRECONDITION_REQUIRED,
    TOO_MANY_TOKENS,
    VALIDATION,
    WRONG_PASSWORD,
    ProblemType,
    problem,
)
from api.throttling import Throttled
from auth.errors import (
    NO_STORE,
    AlreadyVerified,
    CredentialsChanged,
    InvalidLink,
    OAuthError,
    WrongPassword,
)
from auth.personal_tokens import MAX_LIVE_TOKENS, TooManyTokens
from models.errors import DatabaseUnavailable, EmailTaken
from models.password_policy import PasswordRejected
from models.products import NoSuchProduct

logger = logging.getLogger("stockroom")

# What a client is told to wait while the database is unreachable.
DATABASE_RETRY_AFTER_S = 5

# Domain errors: (status, problem type, detail); an error's own `headers` go with its answer.
DOMAIN_PROBLEMS: dict[type[Exception], tuple[int, ProblemType | None, str]] = {
    EmailTaken: (409, EMAIL_TAKEN, "An account with this e-mail address already exists."),
    InvalidLink: (
        400,
        INVALID_LINK,
        "This link has expired or was already used; ask for a new one.",
    ),
    WrongPassword: (400, WRONG_PASSWORD, "The current password is wrong."),
    CredentialsChanged: (
        409,
        CREDENTIALS_CHANGED,
        "The password was changed by another request meanwhile; log in again.",
    ),
    AlreadyVerified: (409, ALREADY_VERIFIED, "This address is already verified."),
    PreconditionFailed: (
        412,
        PRECONDITION_FAILED,
        "The product changed since the version in If-Match; the ETag header has it now.",
    ),
    PreconditionRequired: (
        428,
        PRECONDITION_REQUIRED,
        "Send If-Match with the product's ETag (or *) to change or delete it.",
    ),
    TooManyTokens: (
        409,
        TOO_MANY_TOKENS,
        f"You already have {MAX_LIVE_TOKENS} live tokens; revoke one first.",
    ),
    IdempotencyKeyInFlight: (
        409,
        IDEMPOTENCY_KEY_IN_FLIGHT,
        "A request with this Idempotency-Key is still running; retry to get its answer.",
    ),
    # Other users' products answer exactly like missing ones.
    NoSuchProduct: (404, None, "Product not found."),
}


def oauth_error_response(exc: OAuthError) -> JSONResponse:
    return JSONResponse(
        {"error": exc.error, "error_description": exc.description},
        status_code=exc.status_code,
        headers={**NO_STORE, **exc.headers},
    )


def field_errors(errors: Any) -> list[dict[str, Any]]:
    # FastAPI's default echoes each `input` back: that can be a password, or a float like 1e400
    # that JSON cannot encode (a 500). Location, type and message are what a client needs.
    return [{"loc": list(e["loc"]), "type": e["type"], "msg": e["msg"]} for e in errors]


class OAuthRoute(APIRoute):
    """A route whose every failure is an RFC 6749 §5.2 answer: the token endpoint, whose
    clients (OAuth libraries, Swagger UI) read nothing else."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_as_oauth(request: Request) -> Response:
            try:
                return await handle(request)
            except RequestValidationError as exc:
                first = field_errors(exc.errors())[:1] or [{"loc": [], "msg": "invalid value"}]
                field = ".".join(str(part) for part in first[0]["loc"][1:]) or "request"
                raise OAuthError("invalid_request", f"{field}: {first[0]['msg']}") from None
            except HTTPException as exc:
                if exc.status_code != status.HTTP_400_BAD_REQUEST:
                    raise
                # e.g. a form body that is not UTF-8
                raise OAuthError("invalid_request", str(exc.detail)) from None

        return handle_as_oauth


async def _oauth_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    return oauth_error_response(exc)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(exc.errors())
    return problem(422, "One or more values are not valid.", kind=VALIDATION, errors=errors)


async def _password_rejected(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PasswordRejected)
    errors = [{"loc": ["body", exc.field], "type": "value_error", "msg": exc.problem}]
    return problem(422, f"{exc.field}: {exc.problem}", kind=VALIDATION, errors=errors)


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == status.HTTP_204_NO_CONTENT or exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=exc.headers)
    return problem(exc.status_code, str(exc.detail), headers=exc.headers)


async def _domain_error(_request: Request, exc: Exception) -> Response:
    code, kind, detail = DOMAIN_PROBLEMS[type(exc)]
    return problem(code, detail, kind=kind, headers=getattr(exc, "headers", None))


async def _invalid_cursor(_request: Request, exc: Exception) -> Response:
    errors = [{"loc": ["query", "cursor"], "type": "invalid_cursor", "msg": str(exc)}]
    detail = "The cursor is not one this server made for this list; start from the first page."
    return problem(422, detail, kind=VALIDATION, errors=errors)


async def _key_reused(_request: Request, _exc: Exception) -> Response:
    msg = "sent before with another body"
    errors = [{"loc": ["header", "Idempotency-Key"], "type": "idempotency_key_reused", "msg": msg}]
    detail = "This Idempotency-Key was sent with another body; use a new key for a new request."
    return problem(422, detail, kind=IDEMPOTENCY_KEY_REUSED, errors=errors)


async def _throttled(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Throttled)
    wait = exc.retry_after
    return problem(
        429,
        f"Too many requests of this kind from here; try again in {wait} seconds.",
        headers={"Retry-After": str(wait)},
    )


async def _database_unavailable(_request: Request, exc: Exception) -> Response:
    logger.warning("database unavailable: %s", exc)
    return problem(
        503,
        "The database is unavailable; retry shortly.",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )


async def _unhandled(_request: Request, _exc: Exception) -> Response:
    # Starlette re-raises after this handler, so the server logs the traceback once.
    return problem(500, "Internal server error; it has been logged.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(OAuthError, _oauth_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(PasswordRejected, _password_rejected)
    app.add_exception_handler(HTTPException, _http_error)
    for domain_error in DOMAIN_PROBLEMS:
        app.add_exception_handler(domain_error, _domain_error)
    app.add_exception_handler(InvalidCursor, _invalid_cursor)
    app.add_exception_handler(IdempotencyKeyReused, _key_reused)
    app.add_exception_handler(Throttled, _throttled)
    app.add_exception_handler(DatabaseUnavailable, _database_unavailable)
    app.add_exception_handler(Exception, _unhandled)
