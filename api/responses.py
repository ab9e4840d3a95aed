"""Error responses declared in the OpenAPI document, so clients and fuzzers know every answer."""

from typing import Any

from models.schemas import ErrorBody, OAuthErrorBody

Responses = dict[int | str, dict[str, Any]]

UNAUTHORIZED: Responses = {
    401: {"model": ErrorBody, "description": "Missing, invalid or expired access token"},
}
FORBIDDEN: Responses = {
    403: {"model": ErrorBody, "description": "The access token lacks a required scope"},
}
NOT_FOUND: Responses = {
    404: {"model": ErrorBody, "description": "No such object among yours"},
}
BODY_ERRORS: Responses = {
    400: {"model": ErrorBody, "description": "The body could not be parsed (e.g. not UTF-8)"},
    413: {"model": ErrorBody, "description": "The body is larger than the limit"},
}
CONFLICT: Responses = {
    409: {"model": ErrorBody, "description": "The e-mail address is already registered"},
}
OAUTH_ERROR: Responses = {
    400: {"model": OAuthErrorBody, "description": "RFC 6749 §5.2 error"},
}
TOO_MANY: Responses = {
    429: {
        "model": ErrorBody,
        "description": "Too many attempts; wait the seconds in `Retry-After`",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
}
