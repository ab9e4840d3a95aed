"""Pure ASGI middleware: request body limit and security headers."""

import json

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NO_STORE_EXEMPT_PREFIXES = ("/docs/static/", "/redoc/")


def body_too_large(limit: int) -> str:
    return f"Request body too large; the limit is {limit} bytes."


async def _send_413(send: Send, limit: int) -> None:
    body = json.dumps({"detail": body_too_large(limit)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class DeclaredBodyLimitMiddleware:
    """413 with a JSON body for a declared Content-Length over the limit, before anything runs.

    Bodies without a length (chunked) are counted by FastAPI's own `max_body_size` as they
    arrive; its 413 goes through the app's JSON error handler. Starlette answers the declared
    case itself in plain text, hence this.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                    await _send_413(send, self.limit)
                    return
        await self.app(scope, receive, send)


class SecurityHeadersMiddleware:
    """`nosniff` everywhere; `no-store` on everything but the docs' static assets, since nearly
    every response carries a token or a user's data."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith(NO_STORE_EXEMPT_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["X-Frame-Options"] = "DENY"
                if not cacheable:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
