from limits import parse
from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.config.common import CONFIG, RateLimit


class LimitSettings(BaseSettings):
    """How much work a stranger may ask for (api/throttling.py counts it), and where the counts
    are shared: Redis for every worker and host, else each process counts alone."""

    model_config = SettingsConfigDict(**CONFIG, arbitrary_types_allowed=True)

    REDIS_URL: str | None = None
    LOGIN_FAILURE_LIMIT_PER_ACCOUNT: RateLimit = parse("10/15 minutes")
    LOGIN_FAILURE_LIMIT_PER_ADDRESS: RateLimit = parse("100/15 minutes")
    REGISTRATION_LIMIT_PER_ADDRESS: RateLimit = parse("20/hour")
    REFRESH_LIMIT_PER_ADDRESS: RateLimit = parse("120/minute")
    PASSWORD_RESET_LIMIT_PER_ACCOUNT: RateLimit = parse("5/hour")
    PASSWORD_RESET_LIMIT_PER_ADDRESS: RateLimit = parse("20/hour")
    VERIFICATION_MAIL_LIMIT_PER_ACCOUNT: RateLimit = parse("5/hour")
    EMAIL_CHANGE_LIMIT_PER_ACCOUNT: RateLimit = parse("5/hour")
    MAIL_LIMIT_PER_RECIPIENT: RateLimit = parse("5/hour")

    @field_validator("REDIS_URL")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://")):
            raise ValueError("REDIS_URL must start with redis:// or rediss://")
        return value or None
