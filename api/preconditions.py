"""Conditional requests on products (RFC 9110 §13): strong ETags from the product's version.

`If-None-Match` on a read compares weakly (a `W/` tag matches its strong twin); `If-Match` on a
write compares strongly, and `*` matches any product that exists. The write itself carries the
versions it accepts (`models.products.update`), so the check cannot go stale before it lands.
"""

from collections.abc import Iterator
from typing import Final

from models import products
from models.database import Executor
from models.product_schemas import etag
from models.products import NoSuchProduct

__all__ = [
    "ANY",
    "PreconditionFailed",
    "PreconditionRequired",
    "etag",
    "matching_versions",
    "refusal",
    "unchanged",
    "write_condition",
]

ANY: Final = "*"


def _tags(header: str) -> Iterator[tuple[bool, str]]:
    """(weak, opaque tag) for each entity-tag of a list header."""
    for item in header.split(","):
        tag = item.strip()
        weak = tag.startswith("W/")
        if weak:
            tag = tag[2:]
        if len(tag) >= 2 and tag[0] == tag[-1] == '"':
            yield weak, tag


def _version(opaque: str) -> int | None:
    inner = opaque[1:-1]
    if inner.startswith("v") and inner[1:].isdigit() and len(inner) < 12:
        return int(inner[1:])
    return None


def matching_versions(if_match: str) -> set[int] | None:
    """The versions a write may replace: None for `*` (any), else the strong tags' versions
    (possibly none: then nothing matches, as a tag of another kind never does)."""
    if if_match.strip() == ANY:
        return None
    return {
        version
        for weak, opaque in _tags(if_match)
        if not weak and (version := _version(opaque)) is not None
    }


def unchanged(if_none_match: str, version: int) -> bool:
    """Whether a read's `If-None-Match` names this version (or `*`): then 304."""
    if if_none_match.strip() == ANY:
        return True
    return any(_version(opaque) == version for _, opaque in _tags(if_none_match))


class PreconditionFailed(Exception):
    """If-Match named another version than the product's (412, with the current ETag)."""

    def __init__(self, current: str) -> None:
        super().__init__(current)
        self.headers = {"ETag": current}


class PreconditionRequired(Exception):
    """REQUIRE_IF_MATCH is on and the write came without If-Match (428)."""


def write_condition(if_match: str | None, *, required: bool) -> set[int] | None:
    """The versions a write may replace; None for any (no If-Match, or `*`)."""
    if if_match is None:
        if required:
            raise PreconditionRequired()
        return None
    return matching_versions(if_match)


async def refusal(
    db: Executor, *, owner_id: int, product_id: int, versions: set[int] | None
) -> Exception:
    """Why a conditional write matched nothing: no such product, or another version of it."""
    if versions is not None:
        current = await products.get(db, owner_id=owner_id, product_id=product_id)
        if current is not None:
            return PreconditionFailed(etag(current.version))
    return NoSuchProduct()
