from pydantic import Field
from pydantic_settings import BaseSettings

from api.config.common import CONFIG


class ServeSettings(BaseSettings):
    """`stockroom serve` only: where uvicorn listens, with how many workers, whom it trusts."""

    model_config = CONFIG

    HOST: str = "127.0.0.1"
    PORT: int = Field(default=8000, ge=1, le=65535)
    WORKERS: int = Field(default=1, ge=1)
    # Addresses of reverse proxies whose X-Forwarded-For is believed (uvicorn's option).
    FORWARDED_ALLOW_IPS: str = ""
    LOG_LEVEL: str = "INFO"
    # After the drain, how long requests in flight may take to finish.
    SHUTDOWN_TIMEOUT_SECONDS: float = Field(default=20, gt=0)
