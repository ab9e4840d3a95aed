"""What the API accepts and returns: accounts, logins, errors (products: `product_schemas`).

Tables live in `models.tables`; nothing here is stored.
"""

from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from models.password_policy import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from models.sessions import AuthSession


def no_nul(value: str) -> str:
    # PostgreSQL refuses NUL in text; refusing it everywhere keeps both backends identical.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def normalise_email(value: str) -> str:
    """The one spelling of an address that is stored, looked up and throttled."""
    return value.strip().lower()


EMAIL_MAX_LENGTH = 320
Email = Annotated[
    EmailStr, StringConstraints(max_length=EMAIL_MAX_LENGTH), AfterValidator(normalise_email)
]
# Length and form only: what the policy refuses (`password_policy`) depends on the account.
Password = Annotated[
    str,
    Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH),
    AfterValidator(no_nul),
]
FullName = Annotated[str, Field(max_length=200), AfterValidator(no_nul)]


class StrictInput(BaseModel):
    """Unknown fields are refused: `owner_id` or `is_superuser` in a body is a 422, not a no-op."""

    model_config = ConfigDict(extra="forbid")


class UserCreate(StrictInput):
    email: Email
    password: Password
    full_name: FullName | None = None


class UserUpdate(StrictInput):
    # SkipJsonSchema: the field may be left out, but null is not a value (the schema says so).
    email: Email | SkipJsonSchema[None] = Field(
        default=None, description="A new address needs `current_password` too."
    )
    full_name: FullName | None = None
    # The bound on the text itself: on the optional field it would be applied to a null too.
    current_password: (
        Annotated[str, Field(max_length=PASSWORD_MAX_LENGTH)] | SkipJsonSchema[None]
    ) = None

    @model_validator(mode="after")
    def _email_change_is_confirmed(self) -> "UserUpdate":
        if "email" in self.model_fields_set and self.email is None:
            raise ValueError("email cannot be null; leave it out to keep the current one")
        if self.email is not None and not self.current_password:
            raise ValueError("changing the e-mail address needs current_password")
        return self


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str | None
    is_active: bool
    is_superuser: bool
    email_verified: bool
    created_at: datetime


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105
    expires_in: int
    scope: str
    refresh_token: str | None = None


class OAuthErrorBody(BaseModel):
    """RFC 6749 §5.2 error response."""

    error: str
    error_description: str


class LogoutRequest(StrictInput):
    refresh_token: str | None = Field(default=None, max_length=512)


class PasswordResetRequest(StrictInput):
    email: Email


class PasswordResetConfirm(StrictInput):
    token: str = Field(max_length=128)
    new_password: Password


class EmailVerification(StrictInput):
    token: str = Field(max_length=128)


class Accepted(BaseModel):
    """202: the request is taken; what follows happens by mail."""

    detail: str


class PasswordChange(StrictInput):
    current_password: str = Field(max_length=PASSWORD_MAX_LENGTH)
    new_password: Password


class SessionPublic(BaseModel):
    id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None
    scope: str
    current: bool

    @classmethod
    def of(cls, session: AuthSession, *, current_id: str) -> "SessionPublic":
        return cls(
            id=session.id,
            created_at=session.created_at,
            last_used_at=session.last_used_at,
            expires_at=session.expires_at,
            user_agent=session.user_agent,
            scope=session.scope,
            current=session.id == current_id,
        )
