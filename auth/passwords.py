import secrets
from contextlib import AbstractAsyncContextManager, nullcontext

import anyio.to_thread
from passlib.context import CryptContext

from auth.errors import WrongPassword

DEFAULT_ROUNDS = 12
# What a password check runs inside: the API's throttle counts the guess before it is checked.
Guard = AbstractAsyncContextManager[None]
UNGUARDED: Guard = nullcontext()


class PasswordHasher:
    """The one place that knows password schemes and costs.

    `bcrypt_sha256` pre-hashes with HMAC-SHA256, so passwords longer than bcrypt's 72 bytes are
    neither truncated nor refused. Plain `bcrypt` is kept only to verify (and then upgrade)
    hashes made by it. Hashing runs in a worker thread: bcrypt releases the GIL and the event
    loop keeps serving while it works.
    """

    def __init__(self, rounds: int = DEFAULT_ROUNDS) -> None:
        self._context = CryptContext(
            schemes=["bcrypt_sha256", "bcrypt"],
            deprecated=["bcrypt"],
            bcrypt_sha256__default_rounds=rounds,
            bcrypt_sha256__min_rounds=rounds,
        )
        # Unknown accounts are verified against this, so they cost what a wrong password costs.
        self._dummy_hash = self._context.hash(secrets.token_urlsafe(32))

    def hash_sync(self, password: str) -> str:
        hashed: str = self._context.hash(password)
        return hashed

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self.hash_sync, password)

    def _verify_sync(self, password: str, hashed: str) -> tuple[bool, str | None]:
        try:
            valid, new_hash = self._context.verify_and_update(password, hashed)
        except (ValueError, TypeError):
            return False, None  # unreadable stored hash: refuse, never crash
        return bool(valid), new_hash

    async def verify(self, password: str, hashed: str | None) -> tuple[bool, str | None]:
        """(valid, replacement hash when the stored one is out of date)."""
        if hashed is None:
            await anyio.to_thread.run_sync(self._verify_sync, password, self._dummy_hash)
            return False, None
        return await anyio.to_thread.run_sync(self._verify_sync, password, hashed)

    async def check(
        self, password: str, hashed: str | None, *, guard: Guard = UNGUARDED
    ) -> str | None:
        """Raise `WrongPassword` (inside `guard`, which sees it) unless the password matches
        the hash; `None` stands for an account that does not exist. Returns a stronger hash of
        the same password to store when the stored one is out of date."""
        async with guard:
            valid, new_hash = await self.verify(password, hashed)
            if not valid:
                raise WrongPassword()
        return new_hash
