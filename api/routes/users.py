from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from api.responses import BODY_ERRORS, CONFLICT, FORBIDDEN, NOT_FOUND, UNAUTHORIZED, Responses
from auth import accounts
from auth.config import AuthConfigDep
from auth.deps import AccountOwner, CurrentUser
from models import sessions
from models.deps import DatabaseDep
from models.schemas import ErrorBody, PasswordChange, SessionPublic, UserPublic, UserUpdate
from models.types import utcnow

router = APIRouter(prefix="/users", tags=["users"], responses={**UNAUTHORIZED, **BODY_ERRORS})

WRONG_PASSWORD: Responses = {400: {"model": ErrorBody, "description": "Wrong current password"}}


def wrong_password() -> HTTPException:
    return HTTPException(status.HTTP_400_BAD_REQUEST, detail="The current password is wrong.")


@router.get("/me", response_model=UserPublic)
async def read_me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.patch(
    "/me", response_model=UserPublic, responses={**WRONG_PASSWORD, **FORBIDDEN, **CONFLICT}
)
async def update_me(
    body: UserUpdate, principal: AccountOwner, db: DatabaseDep, auth: AuthConfigDep
) -> UserPublic:
    """Change the profile. A new e-mail address needs the current password; it is unverified
    until its owner follows the link mailed to it, and the old address gets a notice."""
    user = await accounts.update_profile(db, auth, principal, body)
    if user is None:
        raise wrong_password()
    return UserPublic.model_validate(user)


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**WRONG_PASSWORD, **FORBIDDEN},
)
async def change_my_password(
    body: PasswordChange, principal: AccountOwner, db: DatabaseDep, auth: AuthConfigDep
) -> None:
    """Change the password and end every other session; this one stays logged in."""
    if not await accounts.change_password(db, auth, principal, body):
        raise wrong_password()


@router.get("/me/sessions", response_model=list[SessionPublic], responses=FORBIDDEN)
async def list_my_sessions(
    principal: AccountOwner, db: DatabaseDep, auth: AuthConfigDep
) -> list[SessionPublic]:
    idle_since = utcnow() - auth.session_idle_timeout
    live = await sessions.list_live(db, user_id=principal.user.id, idle_since=idle_since)
    return [SessionPublic.of(s, current_id=principal.session.id) for s in live]


@router.delete(
    "/me/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**FORBIDDEN, **NOT_FOUND},
)
async def end_my_session(
    session_id: Annotated[str, Path(max_length=64)], principal: AccountOwner, db: DatabaseDep
) -> None:
    if not await sessions.revoke(db, session_id, user_id=principal.user.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Session not found.")
