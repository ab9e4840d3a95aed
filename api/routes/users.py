from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from api.deps import AuthConfigDep
from api.responses import BODY_ERRORS, CONFLICT, FORBIDDEN, NOT_FOUND, UNAUTHORIZED, Responses
from auth.deps import AccountOwner, CurrentUser
from auth.sessions import change_password, end_session
from models import crud
from models.database import EngineDep
from models.password_policy import password_problem
from models.schemas import ErrorBody, PasswordChange, SessionPublic, UserPublic, UserUpdate
from models.types import utcnow

router = APIRouter(prefix="/users", tags=["users"], responses={**UNAUTHORIZED, **BODY_ERRORS})

WRONG_PASSWORD: Responses = {400: {"model": ErrorBody, "description": "Wrong current password"}}


@router.get("/me", response_model=UserPublic)
async def read_me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.patch("/me", response_model=UserPublic, responses={**FORBIDDEN, **CONFLICT})
async def update_me(body: UserUpdate, principal: AccountOwner, db: EngineDep) -> UserPublic:
    assert principal.user.id is not None
    fields = body.model_dump(exclude_unset=True)
    if not fields:
        return UserPublic.model_validate(principal.user)
    async with db.begin() as conn:
        user = await crud.update_user(conn, principal.user.id, fields)
    return UserPublic.model_validate(user)


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**WRONG_PASSWORD, **FORBIDDEN},
)
async def change_my_password(
    body: PasswordChange, principal: AccountOwner, db: EngineDep, config: AuthConfigDep
) -> None:
    """Change the password and end every other session; this one stays logged in."""
    problem = password_problem(body.new_password, principal.user.email)
    if problem is not None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"type": "value_error", "loc": ["body", "new_password"], "msg": problem}],
        )
    changed = await change_password(
        db,
        config,
        user=principal.user,
        current_session_id=principal.session.id,
        current_password=body.current_password,
        new_password=body.new_password,
    )
    if not changed:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="The current password is wrong.")


@router.get("/me/sessions", response_model=list[SessionPublic], responses=FORBIDDEN)
async def list_my_sessions(
    principal: AccountOwner, db: EngineDep, config: AuthConfigDep
) -> list[SessionPublic]:
    assert principal.user.id is not None
    async with db.connect() as conn:
        sessions = await crud.list_live_sessions(
            conn, user_id=principal.user.id, idle_since=utcnow() - config.session_idle_timeout
        )
    return [
        SessionPublic(
            id=s.id,
            created_at=s.created_at,
            last_used_at=s.last_used_at,
            expires_at=s.expires_at,
            user_agent=s.user_agent,
            scope=s.scope,
            current=s.id == principal.session.id,
        )
        for s in sessions
    ]


@router.delete(
    "/me/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**FORBIDDEN, **NOT_FOUND},
)
async def end_my_session(
    session_id: Annotated[str, Path(max_length=64)], principal: AccountOwner, db: EngineDep
) -> None:
    assert principal.user.id is not None
    if not await end_session(db, session_id=session_id, user_id=principal.user.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Session not found.")
