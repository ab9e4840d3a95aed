"""Database operations. Each takes the session it runs in and commits its own writes.

Writes start with the write statement itself (INSERT/UPDATE/DELETE ... RETURNING) rather than a
read followed by a write: on SQLite a read-then-write transaction cannot wait for the lock and
fails with "database is locked", and on every backend it is one round trip instead of two.
"""

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.schemas import ProductCreate, ProductPublic, ProductUpdate
from models.tables import AuthSession, Product, RefreshToken, User
from models.types import utcnow


class EmailTakenError(Exception):
    """Another account already uses this e-mail address."""


# --- users -------------------------------------------------------------------------------------


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.exec(select(User).where(col(User.email) == email.lower()))
    return result.one_or_none()


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
    statement = update(User).where(col(User.id) == user_id).values(**fields).returning(User)
    try:
        result = await session.exec(statement)
        user: User = result.scalar_one()
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise EmailTakenError(fields.get("email", "")) from exc
    return user


async def set_password_hash(
    session: AsyncSession, user_id: int, hashed_password: str, *, commit: bool = True
) -> None:
    await session.exec(
        update(User).where(col(User.id) == user_id).values(hashed_password=hashed_password)
    )
    if commit:
        await session.commit()


# --- sessions ----------------------------------------------------------------------------------
# Session writes that belong together (spend a refresh token, issue its successor) do not
# commit: the caller commits once, so a failure leaves no half-rotated family behind.


async def create_auth_session(
    session: AsyncSession,
    *,
    session_id: str,
    user_id: int,
    scope: str,
    expires_at: datetime,
    user_agent: str | None,
    refresh_token_hash: str,
) -> AuthSession:
    auth_session = AuthSession(
        id=session_id,
        user_id=user_id,
        scope=scope,
        expires_at=expires_at,
        user_agent=user_agent[:255] if user_agent else None,
    )
    session.add(auth_session)
    session.add(RefreshToken(token_hash=refresh_token_hash, session_id=session_id))
    await session.commit()
    return auth_session


async def get_session_with_user(
    session: AsyncSession, *, session_id: str, user_id: int | None = None
) -> tuple[AuthSession, User] | None:
    """The one indexed read behind every authenticated request."""
    statement = (
        select(AuthSession, User)
        .join(User, col(User.id) == col(AuthSession.user_id))
        .where(col(AuthSession.id) == session_id)
    )
    if user_id is not None:
        statement = statement.where(col(AuthSession.user_id) == user_id)
    row = (await session.exec(statement)).first()
    if row is None:
        return None
    return row[0], row[1]


async def spend_refresh_token(session: AsyncSession, token_hash: str) -> str | None:
    """Mark a live refresh token spent; its session id, or None if it was not live.

    One conditional UPDATE, so two workers racing with the same token cannot both win.
    """
    result = await session.exec(
        update(RefreshToken)
        .where(
            col(RefreshToken.token_hash) == token_hash,
            col(RefreshToken.spent_at).is_(None),
        )
        .values(spent_at=utcnow())
        .returning(col(RefreshToken.session_id))
    )
    return result.scalar_one_or_none()


async def find_refresh_token(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    return await session.get(RefreshToken, token_hash)


async def add_refresh_token(
    session: AsyncSession, *, session_id: str, token_hash: str, used_at: datetime
) -> None:
    session.add(RefreshToken(token_hash=token_hash, session_id=session_id))
    await session.exec(
        update(AuthSession).where(col(AuthSession.id) == session_id).values(last_used_at=used_at)
    )


async def revoke_auth_session(
    session: AsyncSession, *, session_id: str, user_id: int | None = None
) -> bool:
    """End a session (and with it every access and refresh token it issued). Not committed."""
    statement = update(AuthSession).where(
        col(AuthSession.id) == session_id,
        col(AuthSession.revoked_at).is_(None),
    )
    if user_id is not None:
        statement = statement.where(col(AuthSession.user_id) == user_id)
    result = await session.exec(
        statement.values(revoked_at=utcnow()).returning(col(AuthSession.id))
    )
    return result.first() is not None


async def revoke_other_sessions(session: AsyncSession, *, user_id: int, keep: str) -> None:
    await session.exec(
        update(AuthSession)
        .where(
            col(AuthSession.user_id) == user_id,
            col(AuthSession.id) != keep,
            col(AuthSession.revoked_at).is_(None),
        )
        .values(revoked_at=utcnow())
    )


async def list_live_sessions(
    session: AsyncSession, *, user_id: int, idle_since: datetime
) -> list[AuthSession]:
    now = utcnow()
    result = await session.exec(
        select(AuthSession)
        .where(
            col(AuthSession.user_id) == user_id,
            col(AuthSession.revoked_at).is_(None),
            col(AuthSession.expires_at) > now,
            col(AuthSession.last_used_at) > idle_since,
        )
        .order_by(col(AuthSession.created_at).desc())
    )
    return list(result.all())


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
    result = await session.exec(
        select(Product).where(col(Product.id) == product_id, col(Product.owner_id) == owner_id)
    )
    return result.one_or_none()


async def list_products(
    session: AsyncSession, *, owner_id: int, limit: int, offset: int
) -> tuple[list[Product], int]:
    # Ordered by the primary key: unique and immutable, so pages never overlap or skip.
    items = await session.exec(
        select(Product)
        .where(col(Product.owner_id) == owner_id)
        .order_by(col(Product.id))
        .limit(limit)
        .offset(offset)
    )
    total = await session.exec(
        select(func.count()).select_from(Product).where(col(Product.owner_id) == owner_id)
    )
    return list(items.all()), total.one()


async def update_product(
    session: AsyncSession, *, owner_id: int, product_id: int, data: ProductUpdate
) -> Product | None:
    fields = data.model_dump(exclude_unset=True)
    if "price" in fields:
        fields["price_cents"] = price_to_cents(fields.pop("price"))
    fields["updated_at"] = utcnow()
    result = await session.exec(
        update(Product)
        .where(col(Product.id) == product_id, col(Product.owner_id) == owner_id)
        .values(**fields)
        .returning(Product)
    )
    product = result.scalar_one_or_none()
    await session.commit()
    return product


async def delete_product(session: AsyncSession, *, owner_id: int, product_id: int) -> bool:
    result = await session.exec(
        delete(Product)
        .where(col(Product.id) == product_id, col(Product.owner_id) == owner_id)
        .returning(col(Product.id))
    )
    deleted = result.first() is not None
    await session.commit()
    return deleted
