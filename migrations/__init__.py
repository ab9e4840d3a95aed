"""Alembic owns the schema on SQLite and PostgreSQL.

`upgrade_to_head` runs at start-up under a lock every worker and host respects, so an empty or
older database is brought to head exactly once however many processes start together.
"""

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Select, column, select, table
from sqlalchemy.engine import Connection

from models.database import Database, schema_lock

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


async def upgrade_to_head(engine: Database) -> None:
    async with schema_lock(engine) as connection:
        await connection.run_sync(_upgrade)


HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
# Alembic's own bookkeeping table; the history is linear, so it holds one row.
_CURRENT: Select[Any] = select(column("version_num")).select_from(table("alembic_version"))


async def schema_revision(engine: Database) -> tuple[str | None, str | None]:
    """(current revision of the database, head revision of the code).

    Read through the request pool, so a readiness probe checks the connections requests use.
    """
    async with engine.connect() as connection:
        current = (await connection.execute(_CURRENT)).scalar_one_or_none()
    return current, HEAD
