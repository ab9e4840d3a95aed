from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request

from auth.passwords import PasswordHasher
from auth.tokens import TokenCodec
from models.deps import provided


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """What the auth layer needs at run time; `api` builds it from settings at start-up."""

    passwords: PasswordHasher
    tokens: TokenCodec
    session_lifetime: timedelta
    session_idle_timeout: timedelta


async def get_auth_config(request: Request) -> AuthConfig:
    return provided(request.app, AuthConfig)


AuthConfigDep = Annotated[AuthConfig, Depends(get_auth_config)]
