"""What the API accepts and returns for products."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from models.products import Product
from models.schemas import StrictInput, no_nul, not_blank

PRICE_MAX_DIGITS = 10
PRICE_PLACES = 2

ProductName = Annotated[
    str, Field(min_length=1, max_length=200), AfterValidator(no_nul), AfterValidator(not_blank)
]
Description = Annotated[str, Field(max_length=2000), AfterValidator(no_nul)]
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


def price_to_cents(price: Decimal) -> int:
    return int(price.scaleb(PRICE_PLACES))


class ProductCreate(StrictInput):
    name: ProductName
    price: Price
    description: Description | None = None

    @property
    def price_cents(self) -> int:
        return price_to_cents(self.price)


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

    def changes(self) -> dict[str, Any]:
        """The fields that were sent, named as the products table names them."""
        changes = self.model_dump(exclude_unset=True)
        if "price" in changes:
            changes["price_cents"] = price_to_cents(changes.pop("price"))
        return changes


class ProductPublic(BaseModel):
    id: int
    name: str
    price: Decimal
    description: str | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def fields_of(product: Product) -> dict[str, object]:
        # Validated as plain fields (in pydantic-core) rather than built with model_construct:
        # the faster of the two for a page (bench/README.md).
        return {
            "id": product.id,
            "name": product.name,
            "price": Decimal(product.price_cents).scaleb(-PRICE_PLACES),
            "description": product.description,
            "created_at": product.created_at,
            "updated_at": product.updated_at,
        }

    @classmethod
    def of(cls, product: Product) -> "ProductPublic":
        return cls.model_validate(cls.fields_of(product))


class ProductPage(BaseModel):
    items: list[ProductPublic]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, products: list[Product], *, total: int, limit: int, offset: int) -> "ProductPage":
        items = [ProductPublic.fields_of(product) for product in products]
        return cls.model_validate(
            {"items": items, "total": total, "limit": limit, "offset": offset}
        )
