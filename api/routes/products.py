from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response, status

from api.deps import CursorsDep, SettingsDep
from api.idempotency import IdempotencyKeyHeader, create_once, created
from api.preconditions import etag, refusal, unchanged, write_condition
from api.product_lists import product_page
from api.responses import (
    BODY_ERRORS,
    CONFLICT_IN_FLIGHT,
    FORBIDDEN,
    NOT_FOUND,
    PRECONDITIONS,
    UNAUTHORIZED,
)
from auth.deps import ProductReader, ProductWriter
from models import products
from models.deps import DatabaseDep
from models.product_schemas import (
    ProductCreate,
    ProductPage,
    ProductPublic,
    ProductQuery,
    ProductUpdate,
)
from models.products import NoSuchProduct

router = APIRouter(
    prefix="/products", tags=["products"], responses={**UNAUTHORIZED, **FORBIDDEN, **BODY_ERRORS}
)

# Bounded by the database's integer range, so a huge id is a 422 rather than a driver overflow.
ProductId = Annotated[int, Path(ge=1, le=2**31 - 1)]
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", max_length=1024, description="ETags the write may replace, or `*`."),
]
IfNoneMatch = Annotated[
    str | None, Header(alias="If-None-Match", max_length=1024, description="ETags you hold.")
]


@router.get("", response_model=ProductPage)
async def list_products(
    query: Annotated[ProductQuery, Query()],
    user: ProductReader,
    db: DatabaseDep,
    cursors: CursorsDep,
    request: Request,
    response: Response,
) -> ProductPage:
    """Your products, a page at a time: `next_cursor` (and the `Link` header) resume after it."""
    return await product_page(
        db, cursors, owner_id=user.id, query=query, request=request, response=response
    )


@router.post(
    "",
    response_model=ProductPublic,
    status_code=status.HTTP_201_CREATED,
    responses=CONFLICT_IN_FLIGHT,
)
async def create_product(
    body: ProductCreate,
    user: ProductWriter,
    db: DatabaseDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    if idempotency_key is not None:
        lifetime = timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
        return await create_once(
            db, owner_id=user.id, key=idempotency_key, body=body, lifetime=lifetime
        )
    product = await products.create(
        db,
        owner_id=user.id,
        name=body.name,
        price_cents=body.price_cents,
        description=body.description,
    )
    return created(ProductPublic.of(product))


@router.get(
    "/{product_id}",
    response_model=ProductPublic,
    responses={**NOT_FOUND, 304: {"description": "Unchanged since the ETag in If-None-Match"}},
)
async def read_product(
    product_id: ProductId,
    user: ProductReader,
    db: DatabaseDep,
    response: Response,
    if_none_match: IfNoneMatch = None,
) -> ProductPublic | Response:
    product = await products.get(db, owner_id=user.id, product_id=product_id)
    if product is None:
        raise NoSuchProduct()
    tag = etag(product.version)
    if if_none_match is not None and unchanged(if_none_match, product.version):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return ProductPublic.of(product)


@router.patch(
    "/{product_id}", response_model=ProductPublic, responses={**NOT_FOUND, **PRECONDITIONS}
)
async def update_product(
    product_id: ProductId,
    body: ProductUpdate,
    user: ProductWriter,
    db: DatabaseDep,
    settings: SettingsDep,
    response: Response,
    if_match: IfMatch = None,
) -> ProductPublic:
    versions = write_condition(if_match, required=settings.REQUIRE_IF_MATCH)
    product = await products.update(
        db, owner_id=user.id, product_id=product_id, changes=body.changes(), versions=versions
    )
    if product is None:
        raise await refusal(db, owner_id=user.id, product_id=product_id, versions=versions)
    response.headers["ETag"] = etag(product.version)
    return ProductPublic.of(product)


@router.delete(
    "/{product_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={**NOT_FOUND, **PRECONDITIONS},
)
async def delete_product(
    product_id: ProductId,
    user: ProductWriter,
    db: DatabaseDep,
    settings: SettingsDep,
    if_match: IfMatch = None,
) -> None:
    versions = write_condition(if_match, required=settings.REQUIRE_IF_MATCH)
    if not await products.delete(db, owner_id=user.id, product_id=product_id, versions=versions):
        raise await refusal(db, owner_id=user.id, product_id=product_id, versions=versions)
