from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode

from api.config.common import CONFIG, split_list
from auth.keys import HMAC_ALGORITHM, SigningKeys, UnusableKey


class TokenSettings(BaseSettings):
    """Logins, sessions and the keys that sign their tokens (read from files when asked for, by
    api/secret_key.py; never written here)."""

    model_config = CONFIG

    # HS256 signs with SECRET_KEY; ES256 or RS256 sign with a private key and publish the
    # public ones at /.well-known/jwks.json.
    SECRET_KEY: SecretStr | None = None
    SECRET_KEY_FILE: Path = Path(".stockroom-secret-key")
    PREVIOUS_SECRET_KEYS: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
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
    PASSWORD_HASH_ROUNDS: int = Field(default=12, ge=4, le=20)
    REQUIRE_VERIFIED_EMAIL: bool = False

    @field_validator("PREVIOUS_SECRET_KEYS", "JWT_PREVIOUS_PUBLIC_KEY_FILES", mode="before")
    @classmethod
    def _split_key_lists(cls, value: object) -> object:
        return split_list(value)

    @model_validator(mode="after")
    def _keys_are_usable(self) -> "TokenSettings":
        if self.JWT_ALGORITHM == HMAC_ALGORITHM:
            return self
        if (self.JWT_PRIVATE_KEY is None) == (self.JWT_PRIVATE_KEY_FILE is None):
            raise ValueError(
                f"JWT_ALGORITHM={self.JWT_ALGORITHM} needs its private key (PEM) in "
                "JWT_PRIVATE_KEY or in the file JWT_PRIVATE_KEY_FILE, one of the two"
            )
        try:  # checked now, not at the first login
            SigningKeys.key_pair(
                self.JWT_ALGORITHM, self.private_key_pem(), self.previous_public_pems()
            )
        except (OSError, UnusableKey) as exc:
            raise ValueError(f"unusable JWT key: {exc}") from None
        return self

    def private_key_pem(self) -> str:
        if self.JWT_PRIVATE_KEY is not None:
            return self.JWT_PRIVATE_KEY.get_secret_value()
        return Path(str(self.JWT_PRIVATE_KEY_FILE)).read_text()

    def previous_public_pems(self) -> list[str]:
        return [path.read_text() for path in self.JWT_PREVIOUS_PUBLIC_KEY_FILES]

    @property
    def access_ttl_seconds(self) -> int:
        return max(1, round(self.ACCESS_TOKEN_EXPIRE_MINUTES * 60))
