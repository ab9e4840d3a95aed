from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from api.responses import BODY_ERRORS, FORBIDDEN, NOT_FOUND, UNAUTHORIZED
from auth.deps import ProductReader, ProductWriter
from models import crud
from models.database import EngineDep
from models.schemas import ProductCreate, ProductPage, ProductPublic, ProductUpdate

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
    db: EngineDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> ProductPage:
    assert user.id is not None
    async with db.connect() as conn:
        items, total = await crud.list_products(conn, owner_id=user.id, limit=limit, offset=offset)
    return crud.product_page(items, total=total, limit=limit, offset=offset)


@router.post("", response_model=ProductPublic, status_code=status.HTTP_201_CREATED)
async def create_product(
    body: ProductCreate, user: ProductWriter, db: EngineDep, response: Response
) -> ProductPublic:
    assert user.id is not None
    async with db.begin() as conn:
        product = await crud.create_product(conn, owner_id=user.id, data=body)
    response.headers["Location"] = f"/products/{product.id}"
    return crud.product_public(product)


@router.get("/{product_id}", response_model=ProductPublic, responses=NOT_FOUND)
async def read_product(product_id: ProductId, user: ProductReader, db: EngineDep) -> ProductPublic:
    assert user.id is not None
    async with db.connect() as conn:
        product = await crud.get_product(conn, owner_id=user.id, product_id=product_id)
    if product is None:
        raise not_found()
    return crud.product_public(product)


@router.patch("/{product_id}", response_model=ProductPublic, responses=NOT_FOUND)
async def update_product(
    product_id: ProductId, body: ProductUpdate, user: ProductWriter, db: EngineDep
) -> ProductPublic:
    assert user.id is not None
    async with db.begin() as conn:
        product = await crud.update_product(
            conn, owner_id=user.id, product_id=product_id, data=body
        )
    if product is None:
        raise not_found()
    return crud.product_public(product)


@router.delete(
    "/{product_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=NOT_FOUND,
)
async def delete_product(product_id: ProductId, user: ProductWriter, db: EngineDep) -> None:
    assert user.id is not None
    async with db.begin() as conn:
        deleted = await crud.delete_product(conn, owner_id=user.id, product_id=product_id)
    if not deleted:
        raise not_found()
