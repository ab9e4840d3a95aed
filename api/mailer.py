"""The mail sender: each worker delivers the outbox's due messages, by SMTP or into files.

Requests only write outbox rows (in their own transaction); this loop, running beside them in
every worker, claims due messages, sends them, and marks them sent, or due again later with a
doubled wait, or failed after the last try. A message claimed by one worker is not sent by
another; a restart loses nothing, since the rows wait in the database.
"""

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiosmtplib

from auth.mail_tokens import derive_token
from auth.messages import TOKEN
from models import outbox
from models.database import Database
from models.errors import DatabaseUnavailable
from models.outbox import OutboxMessage
from models.types import utcnow

logger = logging.getLogger("stockroom.mail")

BATCH = 10
RETRY_CAP_S = 3600

Transport = Callable[[EmailMessage, OutboxMessage], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SmtpTransport:
    """`smtp://user:pass@host:port` (STARTTLS when the server offers it), `smtp+starttls://`
    (STARTTLS required) or `smtps://` (TLS from the start)."""

    url: str
    timeout: float

    async def __call__(self, message: EmailMessage, _row: OutboxMessage) -> None:
        parts = urlsplit(self.url)
        implicit_tls = parts.scheme == "smtps"
        await aiosmtplib.send(
            message,
            hostname=parts.hostname or "localhost",
            port=parts.port or (465 if implicit_tls else 587 if "starttls" in parts.scheme else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=implicit_tls,
            start_tls=True if parts.scheme == "smtp+starttls" else None,
            timeout=self.timeout,
        )


@dataclass(frozen=True, slots=True)
class FileTransport:
    """Development without a mail server: each message becomes an .eml file in `directory`."""

    directory: Path

    async def __call__(self, message: EmailMessage, row: OutboxMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{row.created_at:%Y%m%d-%H%M%S}-{row.id}.eml"
        partial = path.with_suffix(".eml.tmp")
        partial.write_bytes(message.as_bytes())
        os.replace(partial, path)  # a reader never sees half a message
        logger.info("mail %d (%s) written to %s", row.id, row.subject, path.resolve())


class MailSender:
    def __init__(
        self,
        db: Database,
        transport: Transport,
        *,
        mail_from: str,
        link_key: str,
        max_attempts: int,
        retry_seconds: float,
        poll_seconds: float,
        lease: timedelta,
    ) -> None:
        self.db = db
        self.transport = transport
        self.mail_from = mail_from
        self.link_key = link_key
        self.max_attempts = max_attempts
        self.retry_seconds = retry_seconds
        self.poll_seconds = poll_seconds
        self.lease = lease
        self.domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"

    async def run(self) -> None:
        """Deliver until cancelled; a database outage only postpones the next round."""
        while True:
            try:
                delivered = await self.deliver_due()
            except DatabaseUnavailable as exc:
                logger.warning("mail sender: database unavailable (%s); trying again", exc)
                delivered = 0
            if delivered < BATCH:
                await asyncio.sleep(self.poll_seconds)

    async def deliver_due(self) -> int:
        """Claim the due messages (a batch) and try each once; how many were claimed."""
        async with self.db.transaction() as conn:
            claimed = await outbox.claim(conn, lease_until=utcnow() + self.lease, limit=BATCH)
        for row in claimed:
            await self._deliver(row)
        return len(claimed)

    async def _deliver(self, row: OutboxMessage) -> None:
        try:
            await self.transport(self.compose(row), row)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            if row.attempts >= self.max_attempts:
                await outbox.mark_failed(self.db, row.id, error)
                logger.error("mail %d failed for good after %d tries", row.id, row.attempts)
                return
            wait = min(self.retry_seconds * 2 ** (row.attempts - 1), RETRY_CAP_S)
            await outbox.retry_at(self.db, row.id, utcnow() + timedelta(seconds=wait), error)
            logger.warning("mail %d not sent (%s); next try in %.0f s", row.id, error, wait)
            return
        await outbox.mark_sent(self.db, row.id)

    def compose(self, row: OutboxMessage) -> EmailMessage:
        token = derive_token(self.link_key, row.link_nonce) if row.link_nonce else None
        message = EmailMessage()
        message["From"] = self.mail_from
        message["To"] = row.recipient
        message["Subject"] = row.subject
        message["Date"] = formatdate(row.created_at.timestamp(), usegmt=True)
        # The same id on every try: a receiver that got a message twice can tell.
        stamp = round(row.created_at.timestamp() * 1e6)
        message["Message-ID"] = f"<stockroom.{row.id}.{stamp}@{self.domain}>"
        message.set_content(fill(row.body_text, token))
        if row.body_html is not None:
            message.add_alternative(fill(row.body_html, token), subtype="html")
        return message


def fill(body: str, token: str | None) -> str:
    return body if token is None else body.replace(TOKEN, token)


@contextlib.asynccontextmanager
async def running(sender: MailSender) -> AsyncIterator[None]:
    """The sender's loop as a task for as long as the block runs (the app's lifespan)."""
    task = asyncio.create_task(sender.run(), name="mail sender")
    try:
        yield
    finally:
        # One cancel is not always enough on Python 3.11: asyncio.wait_for, inside aiosmtplib,
        # drops a cancellation that lands as the call it waits on completes (CPython gh-86296),
        # and the loop sleeps on, holding up shutdown for good. Cancel until the task has ended.
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1)
        with contextlib.suppress(asyncio.CancelledError):
            await task
