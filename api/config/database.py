from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings

from api.config.common import CONFIG
from models.database import DatabaseOptions


class DatabaseSettings(BaseSettings):
    """Where the data lives, and how long anything may wait for it."""

    model_config = CONFIG

    DATABASE_URL: str = "sqlite:///./stockroom.db"
    # PostgreSQL only: one pool of DB_POOL_SIZE + DB_MAX_OVERFLOW connections per worker,
    # opened on demand and kept. SQLite uses one connection per worker process.
    DB_POOL_SIZE: int = Field(default=10, ge=1)
    DB_MAX_OVERFLOW: int = Field(default=0, ge=0)
    DB_POOL_TIMEOUT_SECONDS: float = Field(default=5, gt=0)
    DB_CONNECT_TIMEOUT_SECONDS: float = Field(default=5, gt=0)
    DB_STATEMENT_TIMEOUT_SECONDS: float = Field(default=5, gt=0)
    DB_POOL_MAX_LIFETIME_SECONDS: float = Field(default=1800, gt=0)
    DB_POOL_MAX_IDLE_SECONDS: float = Field(default=300, gt=0)
    SQLITE_SYNCHRONOUS: Literal["FULL", "NORMAL"] = "FULL"

    @property
    def database_options(self) -> DatabaseOptions:
        return DatabaseOptions(
            pool_size=self.DB_POOL_SIZE + self.DB_MAX_OVERFLOW,
            pool_timeout=self.DB_POOL_TIMEOUT_SECONDS,
            connect_timeout=self.DB_CONNECT_TIMEOUT_SECONDS,
            statement_timeout=self.DB_STATEMENT_TIMEOUT_SECONDS,
            max_lifetime=self.DB_POOL_MAX_LIFETIME_SECONDS,
            max_idle=self.DB_POOL_MAX_IDLE_SECONDS,
            sqlite_synchronous=self.SQLITE_SYNCHRONOUS,
        )
