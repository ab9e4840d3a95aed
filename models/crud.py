"""Database operations. Each takes the session it runs in and commits its own writes.

Writes start with the write statement itself (INSERT/UPDATE/DELETE ... RETURNING) rather than a
read followed by a write: on SQLite a read-then-write transaction cannot wait for the lock and
fails with "database is locked", and on every backend it is one round trip instead of two.
"""

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from models.schemas import ProductCreate, ProductPublic, ProductUpdate
from models.tables import AuthSession, Product, User
from models.types import utcnow


class EmailTakenError(Exception):
    """Another account already uses this e-mail address."""


# --- users -------------------------------------------------------------------------------------


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(User.email == email.lower()))
    return result.scalar_one_or_none()


async def create_user(
    session: AsyncSession, *, email: str, hashed_password: str, full_name: str | None = None
) -> User:
    user = User(email=email.lower(), hashed_password=hashed_password, full_name=full_name)
    session.add(user)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise EmailTakenError(email) from exc
    return user


async def update_user(session: AsyncSession, user_id: int, fields: Mapping[str, Any]) -> User:
    if "email" in fields:
        fields = {**fields, "email": fields["email"].lower()}
    statement = update(User).where(User.id == user_id).values(**fields).returning(User)
    try:
        result = await session.execute(statement)
        user = result.scalar_one()
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise EmailTakenError(fields.get("email", "")) from exc
    return user


async def set_password_hash(session: AsyncSession, user_id: int, hashed_password: str) -> None:
    await session.execute(
        update(User).where(User.id == user_id).values(hashed_password=hashed_password)
    )
    await session.commit()


# --- sessions ----------------------------------------------------------------------------------


async def create_auth_session(
    session: AsyncSession,
    *,
    session_id: str,
    user_id: int,
    scope: str,
    expires_at: datetime,
    user_agent: str | None,
    refresh_token_hash: str | None = None,
) -> AuthSession:
    auth_session = AuthSession(
        id=session_id,
        user_id=user_id,
        scope=scope,
        expires_at=expires_at,
        user_agent=user_agent[:255] if user_agent else None,
        refresh_token_hash=refresh_token_hash,
    )
    session.add(auth_session)
    await session.commit()
    return auth_session


async def get_session_with_user(
    session: AsyncSession, *, session_id: str, user_id: int
) -> tuple[AuthSession, User] | None:
    """The one indexed read behind every authenticated request."""
    statement = (
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)  # type: ignore[arg-type]
        .where(AuthSession.id == session_id, AuthSession.user_id == user_id)
    )
    row = (await session.execute(statement)).first()
    await session.close()  # end the read, keep the objects: later writes start clean
    if row is None:
        return None
    return row[0], row[1]


async def revoke_auth_session(session: AsyncSession, *, session_id: str, user_id: int) -> bool:
    result = await session.execute(
        update(AuthSession)
        .where(
            AuthSession.id == session_id,
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),  # type: ignore[union-attr]
        )
        .values(revoked_at=utcnow(), refresh_token_hash=None)
        .returning(AuthSession.id)
    )
    revoked = result.first() is not None
    await session.commit()
    return revoked


# --- products ----------------------------------------------------------------------------------


def price_to_cents(price: Decimal) -> int:
    return int(price.scaleb(2))


def product_public(product: Product) -> ProductPublic:
    assert product.id is not None
    return ProductPublic(
        id=product.id,
        name=product.name,
        price=Decimal(product.price_cents).scaleb(-2),
        description=product.description,
        created_at=product.created_at,
        updated_at=product.updated_at,
    )


async def create_product(session: AsyncSession, *, owner_id: int, data: ProductCreate) -> Product:
    product = Product(
        owner_id=owner_id,
        name=data.name,
        price_cents=price_to_cents(data.price),
        description=data.description,
    )
    session.add(product)
    await session.commit()
    return product


async def get_product(session: AsyncSession, *, owner_id: int, product_id: int) -> Product | None:
    result = await session.execute(
        select(Product).where(Product.id == product_id, Product.owner_id == owner_id)
    )
    return result.scalar_one_or_none()


async def list_products(
    session: AsyncSession, *, owner_id: int, limit: int, offset: int
) -> tuple[list[Product], int]:
    # Ordered by the primary key: unique and immutable, so pages never overlap or skip.
    items = await session.execute(
        select(Product)
        .where(Product.owner_id == owner_id)
        .order_by(Product.id)  # type: ignore[arg-type]
        .limit(limit)
        .offset(offset)
    )
    total = await session.execute(
        select(func.count()).select_from(Product).where(Product.owner_id == owner_id)
    )
    return list(items.scalars().all()), total.scalar_one()


async def update_product(
    session: AsyncSession, *, owner_id: int, product_id: int, data: ProductUpdate
) -> Product | None:
    fields = data.model_dump(exclude_unset=True)
    if "price" in fields:
        fields["price_cents"] = price_to_cents(fields.pop("price"))
    fields["updated_at"] = utcnow()
    result = await session.execute(
        update(Product)
        .where(Product.id == product_id, Product.owner_id == owner_id)  # type: ignore[arg-type]
        .values(**fields)
        .returning(Product)
    )
    product = result.scalar_one_or_none()
    await session.commit()
    return product


async def delete_product(session: AsyncSession, *, owner_id: int, product_id: int) -> bool:
    result = await session.execute(
        delete(Product)
        .where(Product.id == product_id, Product.owner_id == owner_id)  # type: ignore[arg-type]
        .returning(Product.id)
    )
    deleted = result.first() is not None
    await session.commit()
    return deleted
