"""Personal access tokens: credentials for scripts, `stk_pat_` + 256 random bits + a checksum.

The fixed prefix and the checksum let secret scanners (and this server, before any database
read) tell a real token from a typo or a random string. Only the SHA-256 of a token is stored;
the token itself is shown once, when it is made. A token carries product scopes only: the
account (profile, password, sessions, these tokens) needs a password login.
"""

import hashlib
import secrets
import string
import zlib
from dataclasses import dataclass
from datetime import timedelta

from models import access_tokens
from models.access_tokens import AccessToken
from models.database import Database

PREFIX = "stk_pat_"
ALPHABET = string.digits + string.ascii_letters  # base62: no characters a URL or shell mangles
SECRET_CHARS = 43  # 62**43 > 2**256
CHECKSUM_CHARS = 6  # 62**6 > 2**32, a CRC32
TOKEN_LENGTH = len(PREFIX) + SECRET_CHARS + CHECKSUM_CHARS
PRODUCT_SCOPES = ("products:read", "products:write")
MAX_LIVE_TOKENS = 50


class TooManyTokens(Exception):
    """The user already has the most live personal access tokens allowed."""


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def _checksum(secret: str) -> str:
    return _base62(zlib.crc32(secret.encode()), CHECKSUM_CHARS)


def new_token() -> str:
    secret = _base62(secrets.randbits(256), SECRET_CHARS)
    return PREFIX + secret + _checksum(secret)


def is_personal_token(token: str) -> bool:
    return token.startswith(PREFIX)


def well_formed(token: str) -> bool:
    """Prefix, length, alphabet and checksum: what a scanner checks, and we before a query."""
    if len(token) != TOKEN_LENGTH or not token.startswith(PREFIX):
        return False
    body = token[len(PREFIX) :]
    secret, checksum = body[:SECRET_CHARS], body[SECRET_CHARS:]
    return all(char in ALPHABET for char in body) and secrets.compare_digest(
        checksum, _checksum(secret)
    )


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CreatedToken:
    row: AccessToken
    token: str  # shown once


async def create(
    db: Database, *, user_id: int, name: str, scopes: list[str], days: int
) -> CreatedToken:
    token = new_token()
    async with db.transaction() as conn:
        if await access_tokens.live_count(conn, user_id) >= MAX_LIVE_TOKENS:
            raise TooManyTokens()
        row = await access_tokens.create(
            conn,
            user_id=user_id,
            name=name,
            token_hash=token_hash(token),
            scope=" ".join(sorted(set(scopes))),
            lifetime=timedelta(days=days),
        )
    return CreatedToken(row, token)
