"""A mail server for the tests of the mail outbox (password reset, address verification): a real
SMTP server, so delivery goes through aiosmtplib over a socket as in production, and its outages
are real refused connections.
"""

from __future__ import annotations

import email
import email.policy
import threading
from email.message import EmailMessage
from typing import Any, Self

from tests.services.process import free_port, wait_for


class SmtpServer:
    """A real SMTP server (aiosmtpd) in a thread of the test process, on a free port.

    It keeps every message it accepts; `stop()` and `start()` again on the same port stand for
    an outage of the mail server.
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()
        self._controller: Any = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> Self:
        from aiosmtpd.controller import Controller

        self._controller = Controller(_Collector(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def received(self, to: str | None = None) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if to is None or m["To"] == to]

    def wait_for_mail(self, to: str, subject: str = "", count: int = 1) -> EmailMessage:
        """The `count`-th message to `to` whose subject has `subject` in it."""

        def arrived() -> EmailMessage | None:
            matching = [m for m in self.received(to) if subject in str(m["Subject"])]
            return matching[count - 1] if len(matching) >= count else None

        found = wait_for(arrived, f"mail to {to} about {subject!r}")
        assert isinstance(found, EmailMessage)
        return found

    def _accept(self, content: bytes) -> None:
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(message)


class _Collector:
    """aiosmtpd's handler: hands every message's bytes to the server that keeps them."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.server._accept(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"
