"""The keys that sign and verify access tokens, and the public ones published as a JWKS.

HS256 (the default) signs and verifies with one shared secret: nothing can be published, and
every service that verifies a token must hold the secret. ES256 or RS256 sign with a private
key and verify with its public half, which `/.well-known/jwks.json` publishes (RFC 7517), so
other services verify tokens without being able to make them. Either way the current key signs
and previous keys still verify during a rotation; each is named by a `kid` that is derived
from the key, never chosen by hand.
"""

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jose import jwk
from jose.exceptions import JOSEError

HMAC_ALGORITHM = "HS256"
ASYMMETRIC_ALGORITHMS = ("ES256", "RS256")
# RFC 7638: the members of a public key's thumbprint, by key type.
_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}


class UnusableKey(ValueError):
    """A configured key is not usable with the configured algorithm."""


MIN_RSA_BITS = 2048


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def secret_kid(secret: str) -> str:
    """A stable, non-secret name for a shared secret."""
    return hashlib.sha256(b"stockroom-kid:" + secret.encode()).hexdigest()[:16]


def _public_jwk(pem: str, algorithm: str) -> dict[str, Any]:
    try:
        key = jwk.construct(pem, algorithm)
        public = key if key.is_public() else key.public_key()
        data: dict[str, Any] = public.to_dict()
    except (JOSEError, ValueError, TypeError, AttributeError) as exc:
        # python-jose lets a key of the wrong type through as a bare AttributeError.
        raise UnusableKey(f"not a {algorithm} key ({type(exc).__name__})") from None
    if data["kty"] == "RSA" and len(_unb64(data["n"])) * 8 < MIN_RSA_BITS:
        raise UnusableKey(f"RSA keys must have at least {MIN_RSA_BITS} bits")
    members = _THUMBPRINT_MEMBERS[data["kty"]]
    canonical = json.dumps({name: data[name] for name in members}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    kid = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return {**data, "kid": kid, "alg": algorithm, "use": "sig"}


@dataclass(frozen=True, slots=True)
class SigningKeys:
    algorithm: str
    signing_key: str  # the shared secret, or the private key (PEM)
    signing_kid: str
    verifying: Mapping[str, str]  # kid -> the secret, or the public key (PEM)
    public_jwks: tuple[dict[str, Any], ...] = field(default=())  # empty under HS256

    @classmethod
    def shared_secret(cls, secret: str, previous: Iterable[str] = ()) -> "SigningKeys":
        verifying = {secret_kid(key): key for key in (*previous, secret)}
        return cls(HMAC_ALGORITHM, secret, secret_kid(secret), verifying)

    @classmethod
    def key_pair(
        cls, algorithm: str, private_pem: str, previous_public_pems: Iterable[str] = ()
    ) -> "SigningKeys":
        if algorithm not in ASYMMETRIC_ALGORITHMS:
            raise UnusableKey(f"{algorithm} is not one of {', '.join(ASYMMETRIC_ALGORITHMS)}")
        current = _public_jwk(private_pem, algorithm)
        previous = [_public_jwk(pem, algorithm) for pem in previous_public_pems]
        jwks = (current, *(key for key in previous if key["kid"] != current["kid"]))
        verifying = {key["kid"]: _pem_of(key, algorithm) for key in jwks}
        return cls(algorithm, private_pem, current["kid"], verifying, jwks)


def _pem_of(public_jwk: dict[str, Any], algorithm: str) -> str:
    pem: bytes = jwk.construct(public_jwk, algorithm).to_pem()
    return pem.decode()
