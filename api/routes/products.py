from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from api.idempotency import KEY_PARAMETER, create_once, created, key_of
from api.params import header_parameter, query_of, query_parameters
from api.preconditions import etag, refusal, unchanged, write_condition
from api.product_lists import product_page
from api.responses import (
    BODY_ERRORS,
    CONFLICT_IN_FLIGHT,
    FORBIDDEN,
    NOT_FOUND,
    NOT_VALID,
    PRECONDITIONS,
    UNAUTHORIZED,
)
from api.state import state
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
    prefix="/products",
    tags=["products"],
    responses={**UNAUTHORIZED, **FORBIDDEN, **BODY_ERRORS, **NOT_VALID},
)


def write_condition_of(request: Request) -> set[int] | None:
    # The settings come from the app's state here, not through a dependency of their own,
    # which every write would pay for (api/params.py says why).
    required = state(request.app).settings.REQUIRE_IF_MATCH
    return write_condition(request.headers.get("if-match"), required=required)


# Bounded by the database's integer range, so a huge id is a 422 rather than a driver overflow.
ProductId = Annotated[int, Path(ge=1, le=2**31 - 1)]
IF_MATCH = header_parameter("If-Match", "ETags the write may replace, or `*`.")
IF_NONE_MATCH = header_parameter("If-None-Match", "ETags you hold.")


@router.get(
    "", response_model=ProductPage, openapi_extra={"parameters": query_parameters(ProductQuery)}
)
async def list_products(user: ProductReader, request: Request) -> Response:
    """Your products, a page at a time: `next_cursor` (and the `Link` header) resume after it."""
    # Like its query string (api/params.py), the list reads the database from the app's state
    # itself: a dependency of its own cost every page a few percent of its CPU (bench/README.md).
    query = query_of(request, ProductQuery)
    app = state(request.app)
    return await product_page(
        app.database, app.cursors, owner_id=user.id, query=query, request=request
    )


@router.post(
    "",
    response_model=ProductPublic,
    status_code=status.HTTP_201_CREATED,
    responses=CONFLICT_IN_FLIGHT,
    openapi_extra={"parameters": [KEY_PARAMETER]},
)
async def create_product(
    body: ProductCreate, user: ProductWriter, db: DatabaseDep, request: Request
) -> Response:
    idempotency_key = key_of(request)
    if idempotency_key is not None:
        lifetime = timedelta(hours=state(request.app).settings.IDEMPOTENCY_KEY_HOURS)
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
    openapi_extra={"parameters": [IF_NONE_MATCH]},
)
async def read_product(
    product_id: ProductId,
    user: ProductReader,
    db: DatabaseDep,
    request: Request,
    response: Response,
) -> ProductPublic | Response:
    if_none_match = request.headers.get("if-none-match")
    product = await products.get(db, owner_id=user.id, product_id=product_id)
    if product is None:
        raise NoSuchProduct()
    tag = etag(product.version)
    if if_none_match is not None and unchanged(if_none_match, product.version):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return ProductPublic.of(product)


@router.patch(
    "/{product_id}",
    response_model=ProductPublic,
    responses={**NOT_FOUND, **PRECONDITIONS},
    openapi_extra={"parameters": [IF_MATCH]},
)
async def update_product(
    product_id: ProductId,
    body: ProductUpdate,
    user: ProductWriter,
    db: DatabaseDep,
    request: Request,
    response: Response,
) -> ProductPublic:
    versions = write_condition_of(request)
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
    openapi_extra={"parameters": [IF_MATCH]},
)
async def delete_product(
    product_id: ProductId, user: ProductWriter, db: DatabaseDep, request: Request
) -> None:
    versions = write_condition_of(request)
    if not await products.delete(db, owner_id=user.id, product_id=product_id, versions=versions):
        raise await refusal(db, owner_id=user.id, product_id=product_id, versions=versions)
