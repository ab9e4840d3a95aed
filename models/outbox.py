"""The mail outbox: messages written with the change that caused them, delivered by a sender.

Senders claim messages for a lease before they send them, so several workers and hosts never
send one message at the same time; a sender that dies mid-send leaves its claim to expire and
the message to be tried again.
"""

from dataclasses import dataclass
from datetime import datetime

from models.database import Connection, Executor, columns, row_of
from models.tables import MailOutboxTable
from models.types import utcnow


@dataclass(frozen=True, slots=True)
class Mail:
    """A message to send. `{token}` in the bodies stands for the link's secret, derived from
    `link_nonce` when it is sent (nothing a reader of the table could follow)."""

    recipient: str
    subject: str
    body_text: str
    body_html: str | None = None
    link_nonce: str | None = None


@row_of(MailOutboxTable)
class OutboxMessage:
    id: int
    recipient: str
    subject: str
    body_text: str
    body_html: str | None
    link_nonce: str | None
    created_at: datetime
    attempts: int


MESSAGE_COLUMNS = columns(OutboxMessage)

_INSERT = (
    "INSERT INTO mail_outbox (recipient, subject, body_text, body_html, link_nonce, created_at, "
    "next_attempt_at, attempts) VALUES ($1, $2, $3, $4, $5, $6, $6, 0)"
)
_DUE = (
    "SELECT id FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL "
    "AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1) "
    "ORDER BY id LIMIT $3"
)
_CLAIM = (
    "UPDATE mail_outbox SET claimed_until = $2, attempts = attempts + 1 WHERE id IN ({due}) "
    f"RETURNING {MESSAGE_COLUMNS}"
)
# PostgreSQL: concurrent claimers skip the rows another holds. SQLite: its one writer at a
# time already serialises them.
_CLAIM_BY_DIALECT = {
    "postgresql": _CLAIM.format(due=_DUE + " FOR UPDATE SKIP LOCKED"),
    "sqlite": _CLAIM.format(due=_DUE),
}
_SENT = "UPDATE mail_outbox SET sent_at = $2, claimed_until = NULL WHERE id = $1"
_RETRY = (
    "UPDATE mail_outbox SET next_attempt_at = $2, last_error = $3, claimed_until = NULL "
    "WHERE id = $1"
)
_FAILED = (
    "UPDATE mail_outbox SET failed_at = $2, last_error = $3, claimed_until = NULL WHERE id = $1"
)


async def enqueue(db: Executor, mail: Mail) -> None:
    await db.execute(
        _INSERT,
        mail.recipient,
        mail.subject,
        mail.body_text,
        mail.body_html,
        mail.link_nonce,
        utcnow(),
    )


async def claim(conn: Connection, *, lease_until: datetime, limit: int) -> list[OutboxMessage]:
    """Messages due now, claimed until `lease_until` (call inside a transaction)."""
    rows = await conn.fetch(_CLAIM_BY_DIALECT[conn.dialect], utcnow(), lease_until, limit)
    return sorted((OutboxMessage(*row) for row in rows), key=lambda message: message.id)


async def mark_sent(db: Executor, message_id: int) -> None:
    await db.execute(_SENT, message_id, utcnow())


async def retry_at(db: Executor, message_id: int, when: datetime, error: str) -> None:
    await db.execute(_RETRY, message_id, when, error[:500])


async def mark_failed(db: Executor, message_id: int, error: str) -> None:
    await db.execute(_FAILED, message_id, utcnow(), error[:500])
