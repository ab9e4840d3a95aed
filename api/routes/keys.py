"""The public keys that verify Stockroom's access tokens (RFC 7517), for other services."""

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from api.state import state

router = APIRouter(tags=["keys"])

JWKS_PATH = "/.well-known/jwks.json"
# Long enough to spare verifiers a request per token, short next to a rotation's overlap
# (the previous key stays published for at least an access token's lifetime).
JWKS_MAX_AGE_S = 300


class JsonWebKeySet(BaseModel):
    keys: list[dict[str, Any]]


@router.get(JWKS_PATH, response_model=JsonWebKeySet)
async def jwks(request: Request, response: Response) -> JsonWebKeySet:
    """The current and previous public keys, by `kid`; empty under HS256 (a shared secret is
    never published: verify those tokens with the secret)."""
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_S}"
    return JsonWebKeySet(keys=list(state(request.app).auth.tokens.keys.public_jwks))
