"""Cursors for product lists: where the next page starts, opaque to the client.

A cursor carries the last row's sort value and id, the owner, and the order and filters of
the list it came from, signed with a key derived from the server's secret (keyed BLAKE2b). A
cursor that was altered, forged, or made for another user or another list is refused, never
read: it cannot reach another user's products or skip rows of a different query.
"""

import base64
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

MAC_BYTES = 16
# One encoder for every cursor: json.dumps with options builds a new one per call.
_compact_json = json.JSONEncoder(separators=(",", ":")).encode


class InvalidCursor(Exception):
    """A cursor this server did not make for this user and this list."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"stockroom-cursor:" + secret.encode()).digest()

    def _mac(self, payload: bytes) -> bytes:
        # Keyed BLAKE2b is a MAC by design (RFC 7693 section 2.9) and Python's own code: an
        # OpenSSL HMAC looks its digest up by name on every call, which cost a list page more
        # than the rest of its cursor (bench/README.md).
        return hashlib.blake2b(payload, key=self._key, digest_size=MAC_BYTES).digest()

    def encode(self, *, owner_id: int, query: str, value: Any, last_id: int) -> str:
        """`query` names the list's order and filters; `value` is the last row's sort value."""
        kind, text = ("t", value.isoformat()) if isinstance(value, datetime) else ("v", value)
        data = _compact_json([owner_id, query, kind, text, last_id]).encode()
        return f"{_b64(data)}.{_b64(self._mac(data))}"

    def decode(self, cursor: str, *, owner_id: int, query: str) -> tuple[Any, int]:
        """(last sort value, last id) of a cursor made for this owner and this query."""
        try:
            encoded, mac = cursor.split(".")
            data = _unb64(encoded)
            if not hmac.compare_digest(_unb64(mac), self._mac(data)):
                raise InvalidCursor("not a cursor of this server")
            owner, made_for, kind, text, last_id = json.loads(data)
        except InvalidCursor:
            raise
        except (ValueError, TypeError) as exc:
            raise InvalidCursor("not a cursor") from exc
        if owner != owner_id or made_for != query:
            raise InvalidCursor("a cursor of another list")
        value = datetime.fromisoformat(text) if kind == "t" else text
        return value, int(last_id)
