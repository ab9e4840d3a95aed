"""The database a test runs against, and settings that point at it.

`STOCKROOM_TEST_DATABASE=postgres` runs the suite on a real PostgreSQL that conftest's
session fixture starts and hands over with `use_postgres()`; the default is a fresh SQLite file
per test. Test modules import these helpers from here; conftest.py keeps only fixtures.
"""

import os
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from api.config import Settings
from tests.services import PostgresServer, sync_url

TEST_SECRET = secrets.token_urlsafe(48)
BACKEND = os.environ.get("STOCKROOM_TEST_DATABASE", "sqlite")
_postgres: PostgresServer | None = None


def use_postgres(server: PostgresServer | None) -> None:
    """The server `database_url()` and `fresh_database_url()` name in the PostgreSQL pass (None
    once it is gone); set by the `postgres_server` fixture."""
    global _postgres
    _postgres = server


def database_url(tmp_path: Path) -> str:
    if BACKEND == "postgres":
        assert _postgres is not None, "the postgres fixture has not started"
        return _postgres.url
    return f"sqlite:///{tmp_path / 'stockroom.db'}"


def fresh_database_url(tmp_path: Path) -> str:
    """An empty database of the pass's kind, for a server that must not share the tests' one."""
    if BACKEND == "postgres":
        assert _postgres is not None, "the postgres fixture has not started"
        return _postgres.create_database(f"fresh_{secrets.token_hex(6)}")
    return f"sqlite:///{tmp_path / f'fresh-{secrets.token_hex(4)}' / 'stockroom.db'}"


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "SECRET_KEY": TEST_SECRET,
        "DATABASE_URL": database_url(tmp_path),
        "PASSWORD_HASH_ROUNDS": 4,
        # Suites register and log in far more than any person; throttle tests set their own.
        "REGISTRATION_LIMIT_PER_ADDRESS": "100000/hour",
        "LOGIN_FAILURE_LIMIT_PER_ADDRESS": "100000/hour",
        "REFRESH_LIMIT_PER_ADDRESS": "100000/hour",
        "MAIL_DIR": str(tmp_path / "mail"),
        **overrides,
    }
    return Settings(**values)


def execute_sql(settings: Settings, sql: str, **params: Any) -> list[Any]:
    """Act as an operator with direct database access would (disable a user, age a session)."""
    engine = create_engine(sync_url(settings.DATABASE_URL))
    try:
        with engine.begin() as connection:
            result = connection.execute(text(sql), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        engine.dispose()
