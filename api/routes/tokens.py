"""Personal access tokens: credentials for scripts, managed from a password login."""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, Field

from api.problems import Problem
from api.responses import BODY_ERRORS, FORBIDDEN, NOT_FOUND, UNAUTHORIZED
from auth import personal_tokens
from auth.deps import AccountOwner
from models import access_tokens
from models.access_tokens import AccessToken
from models.deps import DatabaseDep
from models.schemas import StrictInput

router = APIRouter(
    prefix="/users/me/tokens",
    tags=["tokens"],
    responses={**UNAUTHORIZED, **FORBIDDEN, **BODY_ERRORS},
)

ProductScope = Literal["products:read", "products:write"]


class TokenCreate(StrictInput):
    name: str = Field(min_length=1, max_length=100, pattern=r"\S")
    scopes: list[ProductScope] = Field(min_length=1, max_length=2)
    expires_in_days: int = Field(ge=1, le=365)


class TokenPublic(BaseModel):
    id: int
    name: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None

    @classmethod
    def of(cls, row: AccessToken) -> "TokenPublic":
        return cls(
            id=row.id,
            name=row.name,
            scopes=row.scope.split(),
            created_at=row.created_at,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
        )


class TokenCreated(BaseModel):
    id: int
    name: str
    token: str = Field(description="The token itself, shown only in this answer.")
    scopes: list[str]
    created_at: datetime
    expires_at: datetime


@router.post(
    "",
    response_model=TokenCreated,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": Problem, "description": "Already 50 live tokens"}},
)
async def create_token(body: TokenCreate, login: AccountOwner, db: DatabaseDep) -> TokenCreated:
    """Make a token for scripts; its secret is in this answer and never again."""
    created = await personal_tokens.create(
        db,
        user_id=login.user.id,
        name=body.name.strip(),
        scopes=list(body.scopes),
        days=body.expires_in_days,
    )
    row = created.row
    return TokenCreated(
        id=row.id,
        name=row.name,
        token=created.token,
        scopes=row.scope.split(),
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


@router.get("", response_model=list[TokenPublic])
async def list_tokens(login: AccountOwner, db: DatabaseDep) -> list[TokenPublic]:
    """Live tokens (not revoked, not expired), with their last use to the minute."""
    return [TokenPublic.of(row) for row in await access_tokens.list_live(db, login.user.id)]


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=2**31 - 1)], login: AccountOwner, db: DatabaseDep
) -> None:
    """Revoke a token: every worker refuses it from the next request on."""
    if not await access_tokens.revoke(db, token_id=token_id, user_id=login.user.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Token not found.")
