"""RFC 9457 problem details: the error body of every answer but the token endpoint's.

`application/problem+json` with `type`, `title`, `status` and `detail`, and `errors` (where,
what kind, what is wrong; never the value sent) for a request that is not valid. `type` is
`about:blank` where the status says it all (RFC 9457 §4.2.1), or one of `PROBLEM_TYPES`: a
path on this API whose page says what the problem means and what to do. Clients act on the
status, `type`, `errors[].loc` and headers such as `Retry-After`, never on the English.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

PROBLEM_JSON = "application/problem+json"
BLANK = "about:blank"


@dataclass(frozen=True, slots=True)
class ProblemType:
    slug: str
    title: str
    description: str

    @property
    def uri(self) -> str:
        return f"/problems/{self.slug}"


VALIDATION = ProblemType(
    "validation",
    "Your request is not valid",
    "One or more values in the request are missing or wrong. `errors` lists each: `loc` is "
    "where it is (`body`, `query`, `path` or `header`, then the field), `type` the kind of "
    "problem, `msg` what is wrong. Correct them and send the request again.",
)
EMAIL_TAKEN = ProblemType(
    "email-taken",
    "The e-mail address is taken",
    "Another account uses this address. Log in to that account, or use another address.",
)
INVALID_LINK = ProblemType(
    "invalid-link",
    "The link is no longer valid",
    "The link from the mail is unknown, was already used, expired, or was replaced by a newer "
    "one (or the account's address or password changed since). Ask for a new link.",
)
WRONG_PASSWORD = ProblemType(
    "wrong-password",
    "The current password is wrong",
    "Changing the password or the e-mail address needs the account's current password. Wrong "
    "guesses count in the same budget as failed logins: after too many, the answer is 429.",
)
CREDENTIALS_CHANGED = ProblemType(
    "credentials-changed",
    "The password changed meanwhile",
    "The account's password was changed (a reset, or a change from another session) while this "
    "request was being checked; the newer password stands. Log in again and retry.",
)
ALREADY_VERIFIED = ProblemType(
    "already-verified",
    "The address is already verified",
    "The account's e-mail address is verified: there is nothing to resend.",
)
TOO_MANY_TOKENS = ProblemType(
    "too-many-tokens",
    "Too many live personal access tokens",
    "An account holds a limited number of live personal access tokens. Revoke one you no "
    "longer use, then make the new one.",
)
IDEMPOTENCY_KEY_REUSED = ProblemType(
    "idempotency-key-reused",
    "The Idempotency-Key came with another request",
    "An Idempotency-Key names one request: a retry must send the same body. Use a new key for "
    "a new request.",
)
IDEMPOTENCY_KEY_IN_FLIGHT = ProblemType(
    "idempotency-key-in-flight",
    "The first request with this Idempotency-Key is still running",
    "Retry after the seconds in `Retry-After`: you will get the first request's answer.",
)
PRECONDITION_FAILED = ProblemType(
    "precondition-failed",
    "The product changed since you read it",
    "If-Match named a version the product no longer has: someone else changed it. The "
    "response's `ETag` is its version now; read it, apply your change again, and send that "
    "ETag in If-Match.",
)
PRECONDITION_REQUIRED = ProblemType(
    "precondition-required",
    "Send If-Match",
    "This server refuses writes to a product that do not say which version they replace: "
    "send the ETag you read in If-Match (or `*` to replace any version).",
)
PROBLEM_TYPES = {
    kind.slug: kind
    for kind in (
        VALIDATION,
        EMAIL_TAKEN,
        INVALID_LINK,
        WRONG_PASSWORD,
        CREDENTIALS_CHANGED,
        ALREADY_VERIFIED,
        TOO_MANY_TOKENS,
        IDEMPOTENCY_KEY_REUSED,
        IDEMPOTENCY_KEY_IN_FLIGHT,
        PRECONDITION_FAILED,
        PRECONDITION_REQUIRED,
    )
}


class FieldError(BaseModel):
    loc: list[str | int] = Field(
        description="Where: `body`, `query`, `path` or `header`, then the field."
    )
    type: str = Field(description="The kind of problem, e.g. `missing`, `string_too_long`.")
    msg: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(BLANK, description="`about:blank`, or a page on this API (`/problems/...`).")
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = Field(
        None, description="Only for `/problems/validation`: each value that is not valid."
    )


def problem(
    status: int,
    detail: str,
    *,
    kind: ProblemType | None = None,
    headers: Mapping[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    """The answer for a problem; also an ASGI app, so middleware can send it before the app."""
    body: dict[str, Any] = {
        "type": kind.uri if kind else BLANK,
        "title": kind.title if kind else HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)
