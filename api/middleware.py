"""Pure ASGI middleware: complete requests only, load shedding, security headers."""

import asyncio

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.drain import Drain
from api.problems import problem

# Public and meant to be cached: the docs' assets, the key set and the problem types' pages
# (they set their own max-age).
NO_STORE_EXEMPT_PREFIXES = ("/docs/static/", "/redoc/", "/.well-known/jwks.json", "/problems/")


def body_too_large(limit: int) -> str:
    return f"Request body too large; the limit is {limit} bytes."


async def _answer_early(
    scope: Scope, send: Send, status: int, detail: str, headers: dict[str, str]
) -> None:
    """An answer given before the app runs, as the app would give it (a problem)."""

    async def nothing_to_read() -> Message:
        return {"type": "http.disconnect"}

    await problem(status, detail, headers=headers)(scope, nothing_to_read, send)


# Health checks are answered even when the worker is full: a busy instance is alive and ready,
# and taking it out of the balancer would only push its load onto the others.
UNLIMITED_PATHS = frozenset({"/health", "/ready"})
BUSY_RETRY_AFTER_S = 1


class ConcurrencyLimitMiddleware:
    """At most `limit` requests in the app at once. The next waits at most `queue_seconds` for
    a slot, then gets 503 + Retry-After.

    An unbounded queue only turns overload into timeouts for everyone; a 503 tells a client (or
    the balancer's retry) to go elsewhere or come back. The short wait keeps a burst from being
    refused, and keeps clients that resend at once from spending the worker on refusals.
    uvicorn's own `limit_concurrency` answers in plain text without Retry-After, hence this.
    """

    def __init__(self, app: ASGIApp, limit: int, queue_seconds: float) -> None:
        self.app = app
        self.queue_seconds = queue_seconds
        self.slots = asyncio.Semaphore(limit)  # first come, first served

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        if self.slots.locked():
            try:
                async with asyncio.timeout(self.queue_seconds):
                    await self.slots.acquire()
            except TimeoutError:
                retry = {"Retry-After": str(BUSY_RETRY_AFTER_S)}
                await _answer_early(scope, send, 503, "The server is busy; retry shortly.", retry)
                return
        else:
            await self.slots.acquire()  # a free slot: taken without waiting
        try:
            await self.app(scope, receive, send)
        finally:
            self.slots.release()


class DrainMiddleware:
    """While the worker drains, every response closes its connection, so a balancer's kept-alive
    connection carries no new request to a worker about to stop."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.drain.active:
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Connection"] = "close"
            await send(message)

        await self.app(scope, receive, send_closing)


# After an early answer the rest of the request is not worth reading: close the connection.
CLOSE = {"Connection": "close"}


class _BodyTooLarge(Exception):
    pass


class CompleteRequestMiddleware:
    """A request goes on to the app only once it has fully arrived: its headers within
    `max_header_bytes` (431), its body within `max_body_bytes` (413) and within
    `body_timeout` seconds (408).

    Placed outside the concurrency limit, so a client that sends its body slowly holds a
    connection but never one of the worker's slots. The body is read here, whole, and replayed
    to the app. Requests without a body go straight through.
    """

    def __init__(
        self, app: ASGIApp, max_header_bytes: int, max_body_bytes: int, body_timeout: float
    ) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header_bytes = 0
        length: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            header_bytes += len(name) + len(value)
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = True
        if header_bytes > self.max_header_bytes:
            detail = f"Request headers too large; the limit is {self.max_header_bytes} bytes."
            await _answer_early(scope, send, 431, detail, CLOSE)
            return
        if not chunked:
            if length is None or length == b"0":
                await self.app(scope, receive, send)
                return
            if length.isdigit() and int(length) > self.max_body_bytes:
                await _answer_early(scope, send, 413, body_too_large(self.max_body_bytes), CLOSE)
                return

        try:
            async with asyncio.timeout(self.body_timeout):
                body = await self._read_body(receive)
        except TimeoutError:
            detail = f"The request body took longer than {self.body_timeout:g} s to arrive."
            await _answer_early(scope, send, 408, detail, CLOSE)
            return
        except _BodyTooLarge:
            await _answer_early(scope, send, 413, body_too_large(self.max_body_bytes), CLOSE)
            return
        if body is None:
            return  # the client went away: nobody to answer

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # the app may still wait for http.disconnect
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None if the client went away first."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


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
