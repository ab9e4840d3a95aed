from fastapi import APIRouter

from api.responses import CONFLICT, FORBIDDEN, UNAUTHORIZED
from auth.deps import AccountOwner, CurrentUser
from models import crud
from models.database import SessionDep
from models.schemas import UserPublic, UserUpdate

router = APIRouter(prefix="/users", tags=["users"], responses=UNAUTHORIZED)


@router.get("/me", response_model=UserPublic)
async def read_me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.patch("/me", response_model=UserPublic, responses={**FORBIDDEN, **CONFLICT})
async def update_me(body: UserUpdate, principal: AccountOwner, db: SessionDep) -> UserPublic:
    assert principal.user.id is not None
    fields = body.model_dump(exclude_unset=True)
    if not fields:
        return UserPublic.model_validate(principal.user)
    user = await crud.update_user(db, principal.user.id, fields)
    return UserPublic.model_validate(user)
