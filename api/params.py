"""Parameters the product routes read from the request themselves, declared in OpenAPI by hand.

FastAPI's own extraction inspects each declared parameter's annotation again on every request;
on the product list, with its eight query parameters, that was most of what the page cost
beyond the database (bench/README.md, "What the request path does, and why"). So these routes
validate their query string in one pydantic call and read their few headers directly, and the
document still lists every parameter, with its schema, as FastAPI would have.
"""

import re
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def query_of(request: Request, model: type[M]) -> M:
    """The query string as `model`; a 422 naming each parameter that is not valid."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        errors = [{**error, "loc": ("query", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors) from None


def header_of(
    request: Request, name: str, *, pattern: re.Pattern[str], max_length: int
) -> str | None:
    """A header's value, or None when it is absent; a 422 naming it when it is not valid."""
    value = request.headers.get(name)
    if value is None or (len(value) <= max_length and pattern.fullmatch(value)):
        return value
    error = {"type": "value_error", "loc": ("header", name), "msg": _MALFORMED.format(max_length)}
    raise RequestValidationError([error])


_MALFORMED = "must be 1 to {} printable ASCII characters"


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI parameters for the fields of a query model."""
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "description": field.get("description", ""),
            "schema": {key: value for key, value in field.items() if key != "description"},
        }
        for name, field in schema["properties"].items()
    ]


def header_parameter(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }
