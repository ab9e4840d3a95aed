from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request

from auth.passwords import PasswordHasher
from auth.tokens import TokenCodec


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """What the auth layer needs at run time; `api` builds it from settings at start-up."""

    passwords: PasswordHasher
    tokens: TokenCodec
    session_lifetime: timedelta
    session_idle_timeout: timedelta


async def get_auth_config(request: Request) -> AuthConfig:
    config: AuthConfig = request.app.state.auth
    return config
