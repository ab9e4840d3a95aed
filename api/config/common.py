"""What the setting groups share: how a list or a rate limit is written in the environment."""

import json
from typing import Annotated

from limits import RateLimitItem, parse
from pydantic import BeforeValidator, PlainSerializer, ValidationInfo
from pydantic_settings import SettingsConfigDict

# Every group reads the process environment at start-up and never changes afterwards.
CONFIG = SettingsConfigDict(env_file=None, extra="ignore", frozen=True, validate_default=True)


def split_list(value: object) -> object:
    """Accept `a,b` as well as `["a", "b"]` for list settings given in the environment."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


def _rate_limit(value: object, info: ValidationInfo) -> RateLimitItem:
    try:
        limit = value if isinstance(value, RateLimitItem) else parse(str(value))
    except ValueError as exc:
        raise ValueError(f"not a rate limit like '10/15 minutes': {value!r}") from exc
    # Counted in a namespace of its own: two limits of one rate on one key are two counts.
    return type(limit)(limit.amount, limit.multiples, namespace=info.field_name or "limit")


# "10/15 minutes" in the environment; a limit of the `limits` package in the code.
RateLimit = Annotated[RateLimitItem, BeforeValidator(_rate_limit), PlainSerializer(str)]
