"""What the API accepts and returns for products."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import to_json

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


def etag(version: int) -> str:
    """The strong ETag of a product at this version: the header and the list field alike."""
    return f'"v{version}"'


class ProductPublic(BaseModel):
    id: int
    name: str
    price: Decimal
    description: str | None
    created_at: datetime
    updated_at: datetime
    etag: str = Field(
        description="The product's ETag (also the header of its own URL): send it in If-Match."
    )

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
            "etag": etag(product.version),
        }

    @classmethod
    def of(cls, product: Product) -> "ProductPublic":
        return cls.model_validate(cls.fields_of(product))


Sort = Literal[
    "id", "-id", "name", "-name", "price", "-price",
    "created_at", "-created_at", "updated_at", "-updated_at",
]  # fmt: skip


class ProductQuery(BaseModel):
    """What `GET /products` takes in its query string."""

    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0, le=2**31 - 1, description="Rows to skip; `cursor` is cheaper.")
    q: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Shows products whose name or description contains this text, in any "
        "case; `%` and `_` are matched as themselves.",
    )
    min_price: Price | None = None
    max_price: Price | None = None
    sort: Sort = Field("id", description="A field; with a leading `-`, descending.")
    cursor: str | None = Field(
        None, max_length=512, description="`next_cursor` of the page before, same filters."
    )
    count: Literal["exact"] | None = Field(
        None, description="`exact`: count the products the filters match, for `total`."
    )

    def fingerprint(self) -> str:
        """The order and filters a cursor is bound to."""
        return "|".join(map(str, (self.sort, self.q, self.min_price, self.max_price)))


class ProductPage(BaseModel):
    items: list[ProductPublic]
    total: int | None = Field(
        description="Every product of yours, or with `q`/`min_price`/`max_price` those they "
        "match: then only with `count=exact` (it counts them), else null."
    )
    limit: int
    offset: int
    next_cursor: str | None = Field(
        description="Send as `cursor` for the page after this one; null on the last page."
    )

    @staticmethod
    def json_of(
        products: list[Product],
        *,
        total: int | None,
        limit: int,
        offset: int,
        next_cursor: str | None,
    ) -> bytes:
        """The page as this model's JSON, serialized from the rows without validating them
        again: they are typed by their table already (`row_of`), and validating twenty items
        cost a page more than its cursor and its query string together (bench/README.md).
        tests/test_product_lists.py holds it to the bytes the model itself writes."""
        return to_json(
            {
                "items": [ProductPublic.fields_of(product) for product in products],
                "total": total,
                "limit": limit,
                "offset": offset,
                "next_cursor": next_cursor,
            }
        )
