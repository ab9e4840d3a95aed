import json
import sys
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from limits import parse
from pydantic import (
    AfterValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from api.secret_key import load_or_create_secret
from api.throttling import ThrottleLimits
from auth.keys import HMAC_ALGORITHM, SigningKeys, UnusableKey
from auth.tokens import MIN_SECRET_BYTES
from models.connect import open_database
from models.database import Database, DatabaseOptions

SMTP_SCHEMES = ("smtp://", "smtp+starttls://", "smtps://")
# A key of 32 bytes with a handful of distinct characters ("aaaa...", spaces) is a placeholder,
# not a secret; token_urlsafe(48) has about 45 distinct characters.
MIN_KEY_DISTINCT_CHARACTERS = 16


def _rate_limit(value: str) -> str:
    try:
        parse(value)
    except ValueError as exc:
        raise ValueError(f"not a rate limit like '10/15 minutes': {value!r}") from exc
    return value


RateLimit = Annotated[str, AfterValidator(_rate_limit)]


def weak_key_problem(key: str) -> str | None:
    """Why a signing key is too weak for production, or None."""
    if len(key.encode()) < MIN_SECRET_BYTES:
        return f"must be at least {MIN_SECRET_BYTES} bytes"
    if not key.strip() or len(set(key)) < MIN_KEY_DISTINCT_CHARACTERS:
        return (
            f"must be random: it has fewer than {MIN_KEY_DISTINCT_CHARACTERS} distinct characters"
        )
    return None


def _split_list(value: object) -> object:
    """Accept `a,b` as well as `["a", "b"]` for list settings given in the environment."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    ENVIRONMENT: Literal["development", "production"] = "development"
    DATABASE_URL: str = "sqlite:///./stockroom.db"
    SECRET_KEY: SecretStr | None = None
    SECRET_KEY_FILE: Path = Path(".stockroom-secret-key")
    PREVIOUS_SECRET_KEYS: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # HS256 signs with SECRET_KEY; ES256 or RS256 sign with a private key and publish the
    # public ones at /.well-known/jwks.json.
    JWT_ALGORITHM: Literal["HS256", "ES256", "RS256"] = "HS256"
    JWT_PRIVATE_KEY: SecretStr | None = None  # PEM
    JWT_PRIVATE_KEY_FILE: Path | None = None
    JWT_PREVIOUS_PUBLIC_KEY_FILES: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    ACCESS_TOKEN_EXPIRE_MINUTES: float = Field(default=15, gt=0, le=1440)
    SESSION_LIFETIME_DAYS: float = Field(default=30, gt=0, le=365)
    SESSION_IDLE_TIMEOUT_DAYS: float = Field(default=7, gt=0, le=365)
    REFRESH_REUSE_GRACE_SECONDS: float = Field(default=10, ge=0, le=300)
    REFRESH_COOKIE_SECURE: bool = True
    REFRESH_COOKIE_SAMESITE: Literal["strict", "lax", "none"] = "strict"
    CORS_ORIGINS: Annotated[list[str], NoDecode] = Field(default_factory=list)
    PASSWORD_HASH_ROUNDS: int = Field(default=12, ge=4, le=20)
    MAX_BODY_BYTES: int = Field(default=1024 * 1024, ge=1024)
    # A request body must arrive in full within this time (408 otherwise), before the request
    # takes one of the worker's concurrency slots.
    REQUEST_BODY_TIMEOUT_SECONDS: float = Field(default=10, gt=0, le=300)
    # All request headers together (names and values); more gets 431.
    MAX_HEADER_BYTES: int = Field(default=16 * 1024, ge=4096)
    DB_POOL_SIZE: int = Field(default=10, ge=1)
    # PostgreSQL only: added to DB_POOL_SIZE (one pool, connections kept). SQLite uses one
    # connection per worker process.
    DB_MAX_OVERFLOW: int = Field(default=0, ge=0)
    DB_POOL_TIMEOUT_SECONDS: float = Field(default=5, gt=0)
    DB_CONNECT_TIMEOUT_SECONDS: float = Field(default=5, gt=0)
    DB_STATEMENT_TIMEOUT_SECONDS: float = Field(default=5, gt=0)
    DB_POOL_MAX_LIFETIME_SECONDS: float = Field(default=1800, gt=0)
    DB_POOL_MAX_IDLE_SECONDS: float = Field(default=300, gt=0)
    SQLITE_SYNCHRONOUS: Literal["FULL", "NORMAL"] = "FULL"
    REDIS_URL: str | None = None
    LOGIN_FAILURE_LIMIT_PER_ACCOUNT: RateLimit = "10/15 minutes"
    LOGIN_FAILURE_LIMIT_PER_ADDRESS: RateLimit = "100/15 minutes"
    REGISTRATION_LIMIT_PER_ADDRESS: RateLimit = "20/hour"
    REFRESH_LIMIT_PER_ADDRESS: RateLimit = "120/minute"
    PASSWORD_RESET_LIMIT_PER_ACCOUNT: RateLimit = "5/hour"  # noqa: S105 (a rate, not a password)
    PASSWORD_RESET_LIMIT_PER_ADDRESS: RateLimit = "20/hour"  # noqa: S105
    VERIFICATION_MAIL_LIMIT_PER_ACCOUNT: RateLimit = "5/hour"
    EMAIL_CHANGE_LIMIT_PER_ACCOUNT: RateLimit = "5/hour"
    MAIL_LIMIT_PER_RECIPIENT: RateLimit = "5/hour"
    # Mail: through SMTP when SMTP_URL is set, else written as .eml files into MAIL_DIR.
    SMTP_URL: SecretStr | None = None
    SMTP_TIMEOUT_SECONDS: float = Field(default=10, gt=0)
    MAIL_FROM: str = "Stockroom <stockroom@localhost>"
    MAIL_DIR: Path = Path("mail")
    MAIL_MAX_ATTEMPTS: int = Field(default=10, ge=1)
    MAIL_RETRY_SECONDS: float = Field(default=5, gt=0)  # doubled after each failed try
    MAIL_POLL_SECONDS: float = Field(default=1, gt=0)
    # The React app's origin: links in mail point there.
    PUBLIC_APP_URL: str = "http://127.0.0.1:5173"
    PASSWORD_RESET_TOKEN_MINUTES: float = Field(default=30, gt=0, le=1440)
    EMAIL_VERIFY_TOKEN_HOURS: float = Field(default=48, gt=0, le=24 * 30)
    REQUIRE_VERIFIED_EMAIL: bool = False
    # Requests one worker serves at once; the next waits at most MAX_QUEUE_SECONDS for a slot,
    # then gets 503 with Retry-After.
    MAX_CONCURRENT_REQUESTS: int = Field(default=100, ge=1)
    MAX_QUEUE_SECONDS: float = Field(default=0.1, ge=0)
    # `stockroom serve` on SIGTERM: /ready answers 503 and requests are still served for the
    # drain time (a balancer checking every second stops sending meanwhile); then in-flight
    # requests get the shutdown time to finish.
    SHUTDOWN_DRAIN_SECONDS: float = Field(default=5, ge=0)
    SHUTDOWN_TIMEOUT_SECONDS: float = Field(default=20, gt=0)
    HOST: str = "127.0.0.1"
    PORT: int = Field(default=8000, ge=1, le=65535)
    WORKERS: int = Field(default=1, ge=1)
    # Addresses of reverse proxies whose X-Forwarded-For is believed (uvicorn's option).
    FORWARDED_ALLOW_IPS: str = ""
    LOG_LEVEL: str = "INFO"

    @field_validator("REDIS_URL")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://")):
            raise ValueError("REDIS_URL must start with redis:// or rediss://")
        return value or None

    @field_validator("SMTP_URL")
    @classmethod
    def _smtp_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None  # unset or empty: mail goes to files
        if not value.get_secret_value().startswith(SMTP_SCHEMES):
            raise ValueError(f"SMTP_URL must start with one of {', '.join(SMTP_SCHEMES)}")
        return value

    @field_validator("PUBLIC_APP_URL")
    @classmethod
    def _app_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("PUBLIC_APP_URL must be an origin like https://app.example.com")
        return value.rstrip("/")

    @field_validator(
        "CORS_ORIGINS", "PREVIOUS_SECRET_KEYS", "JWT_PREVIOUS_PUBLIC_KEY_FILES", mode="before"
    )
    @classmethod
    def _parse_list(cls, value: object) -> object:
        return _split_list(value)

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

    @model_validator(mode="after")
    def _production_is_safe(self) -> "Settings":
        if self.ENVIRONMENT != "production":
            return self
        if self.SECRET_KEY is None:
            raise ValueError(
                "ENVIRONMENT=production needs SECRET_KEY (at least 32 random bytes, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`)."
            )
        for name, key in (
            ("SECRET_KEY", self.SECRET_KEY),
            *(("PREVIOUS_SECRET_KEYS", k) for k in self.PREVIOUS_SECRET_KEYS),
        ):
            problem = weak_key_problem(key.get_secret_value())
            if problem is not None:
                raise ValueError(
                    f"{name} {problem} in production (e.g. "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`)."
                )
        if self.PASSWORD_HASH_ROUNDS < 12:
            raise ValueError("PASSWORD_HASH_ROUNDS must be at least 12 in production.")
        if self.SMTP_URL is None:
            raise ValueError(
                "ENVIRONMENT=production needs SMTP_URL (smtp://user:pass@host:587 and the like): "
                "mail written to files reaches nobody."
            )
        return self

    @model_validator(mode="after")
    def _keys_are_usable(self) -> "Settings":
        if self.JWT_ALGORITHM == HMAC_ALGORITHM:
            return self
        if (self.JWT_PRIVATE_KEY is None) == (self.JWT_PRIVATE_KEY_FILE is None):
            raise ValueError(
                f"JWT_ALGORITHM={self.JWT_ALGORITHM} needs its private key (PEM) in "
                "JWT_PRIVATE_KEY or in the file JWT_PRIVATE_KEY_FILE, one of the two"
            )
        try:
            self.signing_keys  # noqa: B018 (load and check the keys now, not at first login)
        except (OSError, UnusableKey) as exc:
            raise ValueError(f"unusable JWT key: {exc}") from None
        return self

    @cached_property
    def signing_keys(self) -> SigningKeys:
        if self.JWT_ALGORITHM == HMAC_ALGORITHM:
            previous = [key.get_secret_value() for key in self.PREVIOUS_SECRET_KEYS]
            return SigningKeys.shared_secret(self.signing_secret, previous)
        private = (
            self.JWT_PRIVATE_KEY.get_secret_value()
            if self.JWT_PRIVATE_KEY is not None
            else Path(str(self.JWT_PRIVATE_KEY_FILE)).read_text()
        )
        previous_pems = [path.read_text() for path in self.JWT_PREVIOUS_PUBLIC_KEY_FILES]
        return SigningKeys.key_pair(self.JWT_ALGORITHM, private, previous_pems)

    @cached_property
    def signing_secret(self) -> str:
        if self.SECRET_KEY is not None:
            return self.SECRET_KEY.get_secret_value()
        return load_or_create_secret(self.SECRET_KEY_FILE)

    @property
    def throttle_limits(self) -> ThrottleLimits:
        return ThrottleLimits.parse(
            login_failures_per_account=self.LOGIN_FAILURE_LIMIT_PER_ACCOUNT,
            login_failures_per_address=self.LOGIN_FAILURE_LIMIT_PER_ADDRESS,
            registrations_per_address=self.REGISTRATION_LIMIT_PER_ADDRESS,
            refreshes_per_address=self.REFRESH_LIMIT_PER_ADDRESS,
            resets_per_account=self.PASSWORD_RESET_LIMIT_PER_ACCOUNT,
            resets_per_address=self.PASSWORD_RESET_LIMIT_PER_ADDRESS,
            verification_mails_per_account=self.VERIFICATION_MAIL_LIMIT_PER_ACCOUNT,
            email_changes_per_account=self.EMAIL_CHANGE_LIMIT_PER_ACCOUNT,
            mails_per_recipient=self.MAIL_LIMIT_PER_RECIPIENT,
        )

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

    def open_database(self) -> Database:
        return open_database(self.DATABASE_URL, self.database_options)

    @property
    def access_ttl_seconds(self) -> int:
        return max(1, round(self.ACCESS_TOKEN_EXPIRE_MINUTES * 60))


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "\n".join(
            f"  {'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        print(f"stockroom: refusing to start, invalid settings:\n{problems}", file=sys.stderr)
        raise SystemExit(2) from None
