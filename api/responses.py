"""Error answers declared in the OpenAPI document, so clients and fuzzers know every answer.

Each is an RFC 9457 problem (`api/problems.py`), served as `application/problem+json`
(`problem_media_type` moves them there in the document), except at the token endpoint.
"""

from typing import Any

from api.problems import PROBLEM_JSON, Problem
from models.schemas import OAuthErrorBody

Responses = dict[int | str, dict[str, Any]]


def _problem(description: str, **extra: Any) -> dict[str, Any]:
    return {"model": Problem, "description": description, **extra}


UNAUTHORIZED: Responses = {401: _problem("Missing, invalid or expired access token")}
FORBIDDEN: Responses = {403: _problem("The access token lacks a required scope")}
NOT_FOUND: Responses = {404: _problem("No such object among yours")}
BODY_ERRORS: Responses = {
    400: _problem("The body could not be parsed (e.g. not UTF-8)"),
    413: _problem("The body is larger than the limit"),
}
# FastAPI declares a 422 for the parameters it reads; these are for the ones a route reads itself.
NOT_VALID: Responses = {422: _problem("A value is not valid (`errors` says which)")}
CONFLICT: Responses = {409: _problem("The e-mail address is already registered")}
OAUTH_ERROR: Responses = {400: {"model": OAuthErrorBody, "description": "RFC 6749 §5.2 error"}}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}}
CONFLICT_IN_FLIGHT: Responses = {
    409: _problem("A request with this Idempotency-Key is still running", headers=RETRY_AFTER),
}
ETAG_HEADER = {"ETag": {"schema": {"type": "string"}, "description": "The product's ETag now"}}
PRECONDITIONS: Responses = {
    412: _problem("If-Match names another version of the product", headers=ETAG_HEADER),
    428: _problem("REQUIRE_IF_MATCH is on and the request has no If-Match"),
}
TOO_MANY: Responses = {
    429: _problem("Too many attempts; wait the seconds in `Retry-After`", headers=RETRY_AFTER)
}


def problem_media_type(openapi: dict[str, Any]) -> None:
    """Declare problems as `application/problem+json`, and FastAPI's generated 422s as the
    validation problems they are answered with. An operation that answers RFC 6749 errors
    (the token endpoint) answers no 422 at all."""
    schemas = openapi.get("components", {}).get("schemas", {})
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    oauth_ref = {"$ref": "#/components/schemas/OAuthErrorBody"}
    for operations in openapi["paths"].values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            bad_request = responses.get("400", {}).get("content", {}).get("application/json", {})
            if bad_request.get("schema") == oauth_ref:
                responses.pop("422", None)
            for code, response in responses.items():
                content = response.get("content", {})
                body = content.get("application/json", {}).get("schema", {})
                if body == problem_ref or body.get("$ref", "").endswith("/HTTPValidationError"):
                    del content["application/json"]
                    content[PROBLEM_JSON] = {"schema": problem_ref}
                    if code == "422":
                        response["description"] = "A value is not valid (`errors` says which)"
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
