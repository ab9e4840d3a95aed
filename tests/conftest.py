"""Fixtures. `STOCKROOM_TEST_DATABASE=postgres` runs the same suite on a real PostgreSQL that
the fixtures start (and stop); the default is a fresh SQLite file per test."""

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Importing api.main builds the module-level app from the environment: give it a key so the
# import never writes a development key file into the working tree.
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(48))

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api.config import Settings
from api.main import create_app
from tests.helpers import ApiClient
from tests.services import PostgresServer, sync_url

TEST_SECRET = secrets.token_urlsafe(48)
BACKEND = os.environ.get("STOCKROOM_TEST_DATABASE", "sqlite")
_postgres: PostgresServer | None = None


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


@pytest.fixture(scope="session", autouse=True)
def postgres_server() -> Iterator[PostgresServer | None]:
    global _postgres
    if BACKEND != "postgres":
        yield None
        return
    with PostgresServer() as server:
        _postgres = server
        yield server
        _postgres = None


@pytest.fixture(autouse=True)
def clean_postgres(postgres_server: PostgresServer | None) -> None:
    if postgres_server is None:
        return
    engine = create_engine(sync_url(postgres_server.url))
    try:
        with engine.begin() as connection:
            tables = connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ).scalars()
            names = [name for name in tables if name != "alembic_version"]
            if names:
                connection.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[ApiClient]:
    with TestClient(create_app(settings)) as test_client:
        yield ApiClient(test_client)
