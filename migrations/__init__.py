"""Alembic owns the schema on SQLite and PostgreSQL.

`upgrade_to_head` runs at start-up under a lock every worker and host respects, so an empty or
older database is brought to head exactly once however many processes start together.
"""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from models.database import Database
from models.schema_lock import with_schema_lock

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    current = MigrationContext.configure(connection).get_current_revision()
    connection.commit()  # Alembic begins (and, around a CONCURRENTLY index, ends) its own
    if current is not None and current not in KNOWN:
        # A later release migrated it (`schema_problem`): this code serves it as it is.
        return
    command.upgrade(alembic_config(connection), "head")


async def upgrade_to_head(database_url: str, *, connect_timeout: float = 5) -> None:
    await with_schema_lock(database_url, _upgrade, connect_timeout=connect_timeout)


_SCRIPTS = ScriptDirectory.from_config(alembic_config())
HEAD = _SCRIPTS.get_current_head()
# Every revision this code knows. The history is linear and a migration reaches a database only
# with the code that runs it, so a revision not among these is a later release's.
KNOWN = frozenset(revision.revision for revision in _SCRIPTS.walk_revisions())


def schema_problem(current: str | None) -> str | None:
    """Why this code cannot serve a database at revision `current`, or None if it can.

    At its head it can. Behind it, it cannot: it reads columns the schema does not have yet.
    Ahead of it, by a later release's migrations, it can: within a release migrations only add
    (nullable or defaulted columns, tables, indexes), and what they drop or rename waits for a
    release after every instance runs the one that stopped using it (README, "Upgrading"). An
    instance of the release before thus keeps serving while the next one rolls out.
    """
    if current == HEAD or (current is not None and current not in KNOWN):
        return None
    return f"schema at {current}, code expects {HEAD}"


async def schema_revision(db: Database) -> tuple[str | None, str | None]:
    """(current revision of the database, head revision of the code).

    Read through the request pool, so a readiness probe checks the connections requests use.
    Alembic's bookkeeping table holds one row: the history is linear.
    """
    async with db.connection() as conn:
        current: str | None = await conn.fetchval("SELECT version_num FROM alembic_version")
    return current, HEAD
