"""Idempotent creates (IETF httpapi Idempotency-Key): a retry gets the first answer, and nothing
is created twice, on any worker or host (the keys live in the database: models/idempotency.py).
"""

import hashlib
import json
import re
from datetime import timedelta

from fastapi import Request, Response, status

from api.params import header_of, header_parameter
from models import idempotency, products
from models.database import Database
from models.idempotency import IdempotencyKey
from models.product_schemas import ProductCreate, ProductPublic

HEADER = "Idempotency-Key"
# 1 to 255 printable ASCII characters (the draft's key is a string; a UUID is typical).
KEY = re.compile(r"[\x20-\x7e]+")
KEY_MAX_LENGTH = 255
KEY_PARAMETER = header_parameter(
    HEADER,
    "Makes the create safe to retry: the same key and body within IDEMPOTENCY_KEY_HOURS get "
    "the first answer, and create nothing.",
    minLength=1,
    maxLength=KEY_MAX_LENGTH,
    pattern="^[\\x20-\\x7e]+$",
)
REPLAYED = "Idempotent-Replayed"


class IdempotencyKeyReused(Exception):
    """The key came with another request's body."""


class IdempotencyKeyInFlight(Exception):
    """The first request with the key has not answered yet."""

    def __init__(self) -> None:
        super().__init__("in flight")
        # A create takes milliseconds: a retry a second later finds the first one's answer.
        self.headers = {"Retry-After": "1"}


def key_of(request: Request) -> str | None:
    return header_of(request, HEADER, pattern=KEY, max_length=KEY_MAX_LENGTH)


def fingerprint(body: ProductCreate) -> str:
    """The same request, however its JSON was spelled (key order, `9.9` or `"9.90"`)."""
    canonical = {
        "name": body.name,
        "price_cents": body.price_cents,
        "description": body.description,
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def created(public: ProductPublic, body: str | None = None, *, replayed: bool = False) -> Response:
    headers = {"Location": f"/products/{public.id}", "ETag": public.etag}
    if replayed:
        headers[REPLAYED] = "true"
    return Response(
        body if body is not None else public.model_dump_json(),
        status_code=status.HTTP_201_CREATED,
        headers=headers,
        media_type="application/json",
    )


async def create_once(
    db: Database, *, owner_id: int, key: str, body: ProductCreate, lifetime: timedelta
) -> Response:
    request_hash = fingerprint(body)
    found = await idempotency.claim(
        db, user_id=owner_id, key=key, request_hash=request_hash, lifetime=lifetime
    )
    if found is not None:
        return _answer_again(found, request_hash)
    try:
        async with db.transaction() as conn:
            product = await products.create(
                conn,
                owner_id=owner_id,
                name=body.name,
                price_cents=body.price_cents,
                description=body.description,
            )
            public = ProductPublic.of(product)
            answer = public.model_dump_json()
            await idempotency.complete(
                conn, user_id=owner_id, key=key, status_code=201, response_body=answer
            )
    except Exception:
        await idempotency.release(db, user_id=owner_id, key=key)
        raise
    return created(public, answer)


def _answer_again(found: IdempotencyKey, request_hash: str) -> Response:
    if found.request_hash != request_hash:
        raise IdempotencyKeyReused()
    if found.response_body is None:
        raise IdempotencyKeyInFlight()
    public = ProductPublic.model_validate_json(found.response_body)
    return created(public, found.response_body, replayed=True)
