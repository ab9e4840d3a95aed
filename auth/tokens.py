"""Access tokens (JWT, RFC 8725 and RFC 9068) and opaque refresh tokens."""

import hashlib
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jose import JOSEError, jwt

from auth.keys import SigningKeys

# RFC 9068 explicit typing: a JWT of another kind signed with the same key is not an access token.
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 (a media type, not a secret)
# Far above any token we issue; bounds the work an attacker can make us do before a signature check.
MAX_TOKEN_LENGTH = 4096
# Verified tokens remembered per process, so a client's next request skips the HMAC and the JSON
# parsing (a shortcut kept because it pays: bench/README.md). Only valid tokens are remembered
# (a refused one raises, which lru_cache never stores); expiry is checked on every use, and
# revocation is unaffected: the session row is still read on every request.
VERIFIED_CACHE_SIZE = 4096
MIN_SECRET_BYTES = 32


class InvalidTokenError(Exception):
    """The token is not one of ours, not valid any more, or malformed."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    session_id: str
    scopes: frozenset[str]
    expires_at: int


class TokenCodec:
    """Signs with the current key; verifies with it and with the previous keys (rotation)."""

    def __init__(
        self,
        keys: SigningKeys,
        *,
        access_ttl_seconds: int,
        issuer: str = "stockroom",
        audience: str = "stockroom-api",
    ) -> None:
        self.keys = keys
        self.access_ttl_seconds = access_ttl_seconds
        self.issuer = issuer
        self.audience = audience
        self._verified = lru_cache(maxsize=VERIFIED_CACHE_SIZE)(self._verify_signed)

    def issue_access_token(self, *, user_id: int, session_id: str, scopes: Iterable[str]) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user_id),
            "sid": session_id,
            "scope": " ".join(sorted(scopes)),
            "iat": now,
            "exp": now + self.access_ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        headers = {"kid": self.keys.signing_kid, "typ": ACCESS_TOKEN_TYPE}
        token: str = jwt.encode(
            claims, self.keys.signing_key, algorithm=self.keys.algorithm, headers=headers
        )
        return token

    def read_access_token(self, token: str, *, allow_expired: bool = False) -> AccessClaims:
        """Verify signature, type and claims. `allow_expired` serves logout only."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidTokenError("token too long")
        if allow_expired:
            return self._verify(token, allow_expired=True)
        claims = self._verified(token)
        if claims.expires_at <= time.time():
            raise InvalidTokenError("token expired")
        return claims

    def _verify_signed(self, token: str) -> AccessClaims:
        return self._verify(token, allow_expired=False)

    def _verify(self, token: str, *, allow_expired: bool) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
            key = self.keys.verifying.get(header.get("kid"))
            if key is None:
                raise InvalidTokenError("unknown signing key")
            if header.get("typ") != ACCESS_TOKEN_TYPE:
                raise InvalidTokenError("not an access token")
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[self.keys.algorithm],  # pinned: the header's `alg` decides nothing
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "verify_exp": not allow_expired,
                    "require_exp": True,
                    "require_iat": True,
                    "require_sub": True,
                    "require_jti": True,
                    "require_aud": True,
                    "require_iss": True,
                },
            )
            sub, sid, scope = claims["sub"], claims.get("sid"), claims.get("scope")
            if not (isinstance(sub, str) and sub.isdigit() and len(sub) < 19):
                raise InvalidTokenError("malformed subject")
            if not isinstance(sid, str) or not isinstance(scope, str):
                raise InvalidTokenError("missing session or scope")
            return AccessClaims(
                user_id=int(sub),
                session_id=sid,
                scopes=frozenset(scope.split()),
                expires_at=int(claims["exp"]),
            )
        except InvalidTokenError:
            raise
        except JOSEError as exc:
            raise InvalidTokenError(str(exc)) from exc
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            # python-jose lets some malformed-but-signed claims through as bare exceptions.
            raise InvalidTokenError("malformed token") from exc


def new_session_id() -> str:
    return secrets.token_urlsafe(24)


def new_refresh_token() -> str:
    """Opaque, 256 bits of randomness; only its hash is stored."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
