"""Open the database a URL names: SQLite (a file) or PostgreSQL (a server)."""

from models.database import Database, DatabaseOptions, parse_url
from models.postgres import PostgresDatabase
from models.sqlite import SqliteDatabase


def open_database(database_url: str, options: DatabaseOptions | None = None) -> Database:
    """Nothing connects yet: the first request (or the migration at start-up) does."""
    url = parse_url(database_url)
    options = options or DatabaseOptions()
    if url.get_backend_name() == "sqlite":
        return SqliteDatabase(
            url, synchronous=options.sqlite_synchronous, wait_timeout=options.pool_timeout
        )
    return PostgresDatabase(url, options)
