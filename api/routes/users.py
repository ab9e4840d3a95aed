from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, status

from api.deps import ThrottleDep
from api.problems import Problem
from api.responses import BODY_ERRORS, FORBIDDEN, NOT_FOUND, TOO_MANY, UNAUTHORIZED, Responses
from api.throttling import (
    Throttle,
    address_key,
    password_rules,
    recipient_key,
    user_key,
)
from auth import accounts
from auth.config import AuthConfigDep
from auth.deps import AccountOwner, CurrentUser
from auth.passwords import UNGUARDED, Guard
from models import sessions
from models.deps import DatabaseDep
from models.schemas import PasswordChange, SessionPublic, UserPublic, UserUpdate
from models.types import utcnow
from models.users import User

router = APIRouter(prefix="/users", tags=["users"], responses={**UNAUTHORIZED, **BODY_ERRORS})

WRONG_PASSWORD: Responses = {
    400: {"model": Problem, "description": "Wrong current password"},
    409: {
        "model": Problem,
        "description": "The password changed meanwhile, or the address is taken",
    },
}


@router.get("/me", response_model=UserPublic)
async def read_me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.patch(
    "/me", response_model=UserPublic, responses={**WRONG_PASSWORD, **FORBIDDEN, **TOO_MANY}
)
async def update_me(
    request: Request,
    body: UserUpdate,
    principal: AccountOwner,
    db: DatabaseDep,
    auth: AuthConfigDep,
    throttle: ThrottleDep,
) -> UserPublic:
    """Change the profile. A new e-mail address needs the current password; it is unverified
    until its owner follows the link mailed to it, and the old address gets a notice."""
    user = principal.user
    guard = UNGUARDED
    if body.email is not None and accounts.changes_address(user, body):
        guard = await address_change_guard(throttle, request, user, body.email)
    changed = await accounts.update_profile(db, auth, principal, body, guard=guard)
    return UserPublic.model_validate(changed)


async def address_change_guard(
    throttle: Throttle, request: Request, user: User, new_email: str
) -> Guard:
    """Address changes are counted per account, and per address mailed: the new one gets a
    link, the old one a notice. Both before the current password confirming the change is
    checked, within the login's budget."""
    limits = throttle.limits
    await throttle.take(
        (limits.EMAIL_CHANGE_LIMIT_PER_ACCOUNT, user_key(user.id)),
        (limits.MAIL_LIMIT_PER_RECIPIENT, recipient_key(new_email)),
        (limits.MAIL_LIMIT_PER_RECIPIENT, recipient_key(user.email)),
    )
    return throttle.guess(*password_rules(limits, address=address_key(request), email=user.email))


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**WRONG_PASSWORD, **FORBIDDEN, **TOO_MANY},
)
async def change_my_password(
    request: Request,
    body: PasswordChange,
    principal: AccountOwner,
    db: DatabaseDep,
    auth: AuthConfigDep,
    throttle: ThrottleDep,
) -> None:
    """Change the password and end every other session; this one stays logged in."""
    rules = password_rules(
        throttle.limits, address=address_key(request), email=principal.user.email
    )
    await accounts.change_password(db, auth, principal, body, guard=throttle.guess(*rules))


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
