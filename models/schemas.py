"""What the API accepts and returns. Tables live in `models.tables`; nothing here is stored."""

from datetime import datetime
from decimal import Decimal
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

from models.password_policy import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, password_problem

PRICE_MAX_DIGITS = 10
PRICE_PLACES = 2


def _no_nul(value: str) -> str:
    # PostgreSQL refuses NUL in text; refusing it everywhere keeps both backends identical.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _not_common(value: str) -> str:
    problem = password_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _normalise_email(value: str) -> str:
    return value.lower()


Email = Annotated[EmailStr, StringConstraints(max_length=320), AfterValidator(_normalise_email)]
Password = Annotated[
    str,
    Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH),
    AfterValidator(_no_nul),
    AfterValidator(_not_common),
]
ProductName = Annotated[
    str, Field(min_length=1, max_length=200), AfterValidator(_no_nul), AfterValidator(_not_blank)
]
Description = Annotated[str, Field(max_length=2000), AfterValidator(_no_nul)]
FullName = Annotated[str, Field(max_length=200), AfterValidator(_no_nul)]
Price = Annotated[
    Decimal,
    Field(
        ge=0,
        max_digits=PRICE_MAX_DIGITS,
        decimal_places=PRICE_PLACES,
        allow_inf_nan=False,
        examples=["19.99"],
        description="Decimal with at most 2 places and 10 digits; returned as a string.",
    ),
]


class StrictInput(BaseModel):
    """Unknown fields are refused: `owner_id` or `is_superuser` in a body is a 422, not a no-op."""

    model_config = ConfigDict(extra="forbid")


class UserCreate(StrictInput):
    email: Email
    password: Password
    full_name: FullName | None = None

    @model_validator(mode="after")
    def _password_is_not_the_email(self) -> "UserCreate":
        problem = password_problem(self.password, self.email)
        if problem is not None:
            raise ValueError(problem)
        return self


class UserUpdate(StrictInput):
    # SkipJsonSchema: the field may be left out, but null is not a value (the schema says so).
    email: Email | SkipJsonSchema[None] = None
    full_name: FullName | None = None

    @model_validator(mode="after")
    def _email_not_null(self) -> "UserUpdate":
        if "email" in self.model_fields_set and self.email is None:
            raise ValueError("email cannot be null; leave it out to keep the current one")
        return self


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str | None
    is_active: bool
    is_superuser: bool
    created_at: datetime


class ProductCreate(StrictInput):
    name: ProductName
    price: Price
    description: Description | None = None


class ProductUpdate(StrictInput):
    name: ProductName | SkipJsonSchema[None] = None
    price: Price | SkipJsonSchema[None] = None
    description: Description | None = None

    @model_validator(mode="after")
    def _required_fields_not_null(self) -> "ProductUpdate":
        for field in ("name", "price"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null; leave it out to keep the current value")
        return self


class ProductPublic(BaseModel):
    id: int
    name: str
    price: Decimal
    description: str | None
    created_at: datetime
    updated_at: datetime


class ProductPage(BaseModel):
    items: list[ProductPublic]
    total: int
    limit: int
    offset: int


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


class ErrorBody(BaseModel):
    detail: str


class LogoutRequest(StrictInput):
    refresh_token: str | None = Field(default=None, max_length=512)


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
