from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Protocol

from fastapi import Depends, Request

from auth.passwords import PasswordHasher
from auth.tokens import TokenCodec
from models.deps import DataState, app_state


@dataclass(frozen=True, slots=True)
class MailLinks:
    """Links sent by mail: where they point, what signs them, how long they work."""

    app_url: str  # the React app's origin
    key: str
    reset_ttl: timedelta
    verify_ttl: timedelta


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """What the auth layer needs at run time; `api` builds it from settings at start-up."""

    passwords: PasswordHasher
    tokens: TokenCodec
    session_lifetime: timedelta
    session_idle_timeout: timedelta
    links: MailLinks
    require_verified_email: bool = False
    # A refresh token spent this recently, and the last one spent in its session, may be used
    # again (two tabs, a retry whose answer was lost) instead of ending the session.
    refresh_reuse_grace: timedelta = timedelta(0)


class AuthState(DataState, Protocol):
    """What the auth layer reads of the app's state."""

    @property
    def auth(self) -> AuthConfig: ...


async def get_auth_config(request: Request) -> AuthConfig:
    return app_state(request.app, AuthState).auth


AuthConfigDep = Annotated[AuthConfig, Depends(get_auth_config)]
