"""Settings: environment variables, read once at start-up (pydantic-settings), grouped by concern.

`Settings` is every group at once, with the same variable names; code that needs one concern
takes its group (`DatabaseSettings`, `TokenSettings`, ...). Nothing here builds or writes
anything: keys, the database and the throttles are made in the app's lifespan (api/main.py).
"""

import sys
from typing import Literal

from pydantic import ValidationError, model_validator

from api.config.database import DatabaseSettings
from api.config.http import HttpSettings
from api.config.limits import LimitSettings
from api.config.mail import MailSettings
from api.config.products import ProductSettings
from api.config.serve import ServeSettings
from api.config.tokens import TokenSettings
from auth.tokens import MIN_SECRET_BYTES

__all__ = [
    "DatabaseSettings",
    "HttpSettings",
    "LimitSettings",
    "MailSettings",
    "ProductSettings",
    "ServeSettings",
    "Settings",
    "TokenSettings",
    "load_settings",
    "weak_key_problem",
]

# A key of 32 bytes with a handful of distinct characters ("aaaa...", spaces) is a placeholder,
# not a secret; token_urlsafe(48) has about 45 distinct characters.
MIN_KEY_DISTINCT_CHARACTERS = 16


def weak_key_problem(key: str) -> str | None:
    """Why a signing key is too weak for production, or None."""
    if len(key.encode()) < MIN_SECRET_BYTES:
        return f"must be at least {MIN_SECRET_BYTES} bytes"
    if not key.strip() or len(set(key)) < MIN_KEY_DISTINCT_CHARACTERS:
        return (
            f"must be random: it has fewer than {MIN_KEY_DISTINCT_CHARACTERS} distinct characters"
        )
    return None


class Settings(
    DatabaseSettings,
    TokenSettings,
    LimitSettings,
    MailSettings,
    HttpSettings,
    ProductSettings,
    ServeSettings,
):
    model_config = LimitSettings.model_config

    ENVIRONMENT: Literal["development", "production"] = "development"

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


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "\n".join(
            f"  {'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        print(f"stockroom: refusing to start, invalid settings:\n{problems}", file=sys.stderr)
        raise SystemExit(2) from None
