from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode

from api.config.common import CONFIG, split_list


class HttpSettings(BaseSettings):
    """What one worker accepts, from whom, and how it stops."""

    model_config = CONFIG

    CORS_ORIGINS: Annotated[list[str], NoDecode] = Field(default_factory=list)
    MAX_BODY_BYTES: int = Field(default=1024 * 1024, ge=1024)
    # A request body must arrive in full within this time (408 otherwise), before the request
    # takes one of the worker's concurrency slots.
    REQUEST_BODY_TIMEOUT_SECONDS: float = Field(default=10, gt=0, le=300)
    # All request headers together (names and values); more gets 431.
    MAX_HEADER_BYTES: int = Field(default=16 * 1024, ge=4096)
    # Requests one worker serves at once; the next waits at most MAX_QUEUE_SECONDS for a slot,
    # then gets 503 with Retry-After.
    MAX_CONCURRENT_REQUESTS: int = Field(default=100, ge=1)
    MAX_QUEUE_SECONDS: float = Field(default=0.1, ge=0)
    # On SIGTERM /ready answers 503 and requests are still served this long (a balancer
    # checking every second stops sending meanwhile).
    SHUTDOWN_DRAIN_SECONDS: float = Field(default=5, ge=0)

    @field_validator("CORS_ORIGINS", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return split_list(value)

    @field_validator("CORS_ORIGINS")
    @classmethod
    def _exact_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin == "*" or not origin.startswith(("http://", "https://")):
                raise ValueError(
                    f"CORS_ORIGINS entries must be exact origins like https://app.example.com, "
                    f"not {origin!r}"
                )
        return [origin.rstrip("/") for origin in origins]
