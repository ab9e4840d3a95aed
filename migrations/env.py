"""Alembic environment: used by start-up (with a connection) and by `alembic upgrade head`."""

import asyncio
import os
from typing import Any, Literal

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import models.tables  # noqa: F401  (registers the tables)
from models.database import create_engine, schema_lock
from models.types import UTCDateTime

config = context.config
target_metadata = SQLModel.metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # Migrations must not depend on application classes that may change later.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_standalone(database_url: str) -> None:
    """`alembic upgrade head` by hand: the same engine and lock as start-up."""
    engine = create_engine(database_url)
    try:
        async with schema_lock(engine) as new_connection:
            await new_connection.run_sync(run)
    finally:
        await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    asyncio.run(run_standalone(os.environ.get("DATABASE_URL", "sqlite:///./stockroom.db")))
