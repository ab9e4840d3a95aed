from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from api.responses import BODY_ERRORS, FORBIDDEN, NOT_FOUND, UNAUTHORIZED
from auth.deps import ProductReader, ProductWriter
from models import products
from models.deps import DatabaseDep
from models.product_schemas import ProductCreate, ProductPage, ProductPublic, ProductUpdate

router = APIRouter(
    prefix="/products", tags=["products"], responses={**UNAUTHORIZED, **FORBIDDEN, **BODY_ERRORS}
)

# Bounded by the database's integer range, so a huge id is a 422 rather than a driver overflow.
ProductId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def not_found() -> HTTPException:
    # Other users' products answer exactly like missing ones.
    return HTTPException(status.HTTP_404_NOT_FOUND, detail="Product not found.")


@router.get("", response_model=ProductPage)
async def list_products(
    user: ProductReader,
    db: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> ProductPage:
    found = await products.page(db, owner_id=user.id, limit=limit, offset=offset)
    return ProductPage.of(found.items, total=found.total, limit=limit, offset=offset)


@router.post("", response_model=ProductPublic, status_code=status.HTTP_201_CREATED)
async def create_product(
    body: ProductCreate, user: ProductWriter, db: DatabaseDep, response: Response
) -> ProductPublic:
    product = await products.create(
        db,
        owner_id=user.id,
        name=body.name,
        price_cents=body.price_cents,
        description=body.description,
    )
    response.headers["Location"] = f"/products/{product.id}"
    return ProductPublic.of(product)


@router.get("/{product_id}", response_model=ProductPublic, responses=NOT_FOUND)
async def read_product(
    product_id: ProductId, user: ProductReader, db: DatabaseDep
) -> ProductPublic:
    product = await products.get(db, owner_id=user.id, product_id=product_id)
    if product is None:
        raise not_found()
    return ProductPublic.of(product)


@router.patch("/{product_id}", response_model=ProductPublic, responses=NOT_FOUND)
async def update_product(
    product_id: ProductId, body: ProductUpdate, user: ProductWriter, db: DatabaseDep
) -> ProductPublic:
    product = await products.update(
        db, owner_id=user.id, product_id=product_id, changes=body.changes()
    )
    if product is None:
        raise not_found()
    return ProductPublic.of(product)


@router.delete(
    "/{product_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=NOT_FOUND,
)
async def delete_product(product_id: ProductId, user: ProductWriter, db: DatabaseDep) -> None:
    if not await products.delete(db, owner_id=user.id, product_id=product_id):
        raise not_found()
