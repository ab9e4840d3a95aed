"""Links by mail: a forgotten password, and proof that an address is the user's."""

import logging

from fastapi import APIRouter, BackgroundTasks, Request, status

from api.deps import ThrottleDep
from api.problems import Problem
from api.responses import BODY_ERRORS, FORBIDDEN, TOO_MANY, UNAUTHORIZED, Responses
from api.throttling import account_key, address_key, recipient_key, user_key
from auth import accounts, recovery
from auth.config import AuthConfig, AuthConfigDep
from auth.deps import AccountOwner
from auth.errors import AlreadyVerified
from models.database import Database
from models.deps import DatabaseDep
from models.errors import DatabaseUnavailable
from models.schemas import (
    Accepted,
    EmailVerification,
    PasswordResetConfirm,
    PasswordResetRequest,
)

router = APIRouter(prefix="/auth", tags=["auth"], responses=BODY_ERRORS)
logger = logging.getLogger("stockroom")

BAD_LINK: Responses = {
    400: {"model": Problem, "description": "The link is unknown, used or expired"}
}
RESET_ACCEPTED = (
    "If an account uses this address, a mail with a link to choose a new password is on its way."
)


async def _request_reset(db: Database, auth: AuthConfig, email: str) -> None:
    try:
        await recovery.request_reset(db, auth, email)
    except DatabaseUnavailable as exc:  # after the answer: nobody to tell but the log
        logger.warning("password reset not recorded, database unavailable: %s", exc)


@router.post(
    "/password-reset/request",
    response_model=Accepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=TOO_MANY,
)
async def request_password_reset(
    request: Request,
    body: PasswordResetRequest,
    background: BackgroundTasks,
    db: DatabaseDep,
    auth: AuthConfigDep,
    throttle: ThrottleDep,
) -> Accepted:
    """Mail a reset link to the address, if it belongs to an account.

    The answer is the same, and as fast, whether or not it does: the lookup and the mail happen
    after it is sent.
    """
    limits = throttle.limits
    await throttle.take(
        (limits.PASSWORD_RESET_LIMIT_PER_ADDRESS, address_key(request)),
        (limits.PASSWORD_RESET_LIMIT_PER_ACCOUNT, account_key(body.email)),
    )
    background.add_task(_request_reset, db, auth, body.email)
    return Accepted(detail=RESET_ACCEPTED)


@router.post("/password-reset/confirm", status_code=status.HTTP_204_NO_CONTENT, responses=BAD_LINK)
async def confirm_password_reset(
    body: PasswordResetConfirm, db: DatabaseDep, auth: AuthConfigDep
) -> None:
    """Set a new password with the link's token; every session of the account ends."""
    await recovery.confirm_reset(db, auth, body.token, body.new_password)


@router.post("/verify-email", status_code=status.HTTP_204_NO_CONTENT, responses=BAD_LINK)
async def verify_email(body: EmailVerification, db: DatabaseDep) -> None:
    """Mark the address the link was sent to as verified."""
    await accounts.verify_email(db, body.token)


@router.post(
    "/verify-email/resend",
    response_model=Accepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **UNAUTHORIZED,
        **FORBIDDEN,
        **TOO_MANY,
        409: {"model": Problem, "description": "The address is already verified"},
    },
)
async def resend_verification(
    principal: AccountOwner, db: DatabaseDep, auth: AuthConfigDep, throttle: ThrottleDep
) -> Accepted:
    """Send a new verification link (older ones stop working)."""
    user = principal.user
    if user.email_verified:
        raise AlreadyVerified()
    limits = throttle.limits
    await throttle.take(
        (limits.VERIFICATION_MAIL_LIMIT_PER_ACCOUNT, user_key(user.id)),
        (limits.MAIL_LIMIT_PER_RECIPIENT, recipient_key(user.email)),
    )
    await accounts.resend_verification(db, auth, user)
    return Accepted(detail=f"A new verification link is on its way to {user.email}.")
