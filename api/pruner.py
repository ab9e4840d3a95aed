"""Data with a lifetime is deleted once it has lived it: expired idempotency keys, in small
batches, by every worker now and then, never under a lock a request waits for long."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from models import idempotency
from models.database import Database
from models.errors import DatabaseUnavailable

logger = logging.getLogger("stockroom")

EVERY_S = 60.0
BATCH = 500


async def prune(db: Database) -> int:
    """Delete what has expired, a batch at a time; how many rows went."""
    deleted = 0
    while (batch := await idempotency.purge_expired(db, batch=BATCH)) > 0:
        deleted += batch
        if batch < BATCH:
            break
    return deleted


async def _keep_pruning(db: Database) -> None:
    while True:
        await asyncio.sleep(EVERY_S)
        try:
            await prune(db)
        except DatabaseUnavailable as exc:  # the next round tries again
            logger.warning("pruning skipped, database unavailable: %s", exc)


@asynccontextmanager
async def pruning(db: Database) -> AsyncIterator[None]:
    task = asyncio.create_task(_keep_pruning(db))
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
