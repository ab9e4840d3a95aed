"""Open the database a URL names: SQLite (a file) or PostgreSQL (a server)."""

from models.database import Database, parse_url
from models.postgres import PostgresDatabase
from models.sqlite import SqliteDatabase


def open_database(
    database_url: str, *, pool_size: int, pool_timeout: float, connect_timeout: float
) -> Database:
    """Nothing connects yet: the first request (or the migration at start-up) does."""
    url = parse_url(database_url)
    if url.get_backend_name() == "sqlite":
        return SqliteDatabase(url)
    return PostgresDatabase(
        url, pool_size=pool_size, pool_timeout=pool_timeout, connect_timeout=connect_timeout
    )
