from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from api.config.common import CONFIG

SMTP_SCHEMES = ("smtp://", "smtp+starttls://", "smtps://")


class MailSettings(BaseSettings):
    """Account mail: through SMTP_URL when it is set, else written as .eml files into MAIL_DIR;
    links in it point at the React app."""

    model_config = CONFIG

    SMTP_URL: SecretStr | None = None
    SMTP_TIMEOUT_SECONDS: float = Field(default=10, gt=0)
    MAIL_FROM: str = "Stockroom <stockroom@localhost>"
    MAIL_DIR: Path = Path("mail")
    MAIL_MAX_ATTEMPTS: int = Field(default=10, ge=1)
    MAIL_RETRY_SECONDS: float = Field(default=5, gt=0)  # doubled after each failed try
    MAIL_POLL_SECONDS: float = Field(default=1, gt=0)
    PUBLIC_APP_URL: str = "http://127.0.0.1:5173"
    PASSWORD_RESET_TOKEN_MINUTES: float = Field(default=30, gt=0, le=1440)
    EMAIL_VERIFY_TOKEN_HOURS: float = Field(default=48, gt=0, le=24 * 30)

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
