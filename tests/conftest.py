"""Fixtures. `STOCKROOM_TEST_DATABASE=postgres` runs the same suite on a real PostgreSQL that
the fixtures start (and stop); the default is a fresh SQLite file per test. The helpers test
modules import (make_settings, execute_sql, BACKEND, ...) live in tests/databases.py."""

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

# Importing api.main builds the module-level app from the environment: give it a key so the
# import never writes a development key file into the working tree.
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(48))

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api.config import Settings
from api.main import create_app
from tests.databases import BACKEND, fresh_database_url, make_settings, use_postgres
from tests.helpers import ApiClient
from tests.services import PostgresServer, UvicornServer, sync_url


@pytest.fixture(scope="session", autouse=True)
def postgres_server() -> Iterator[PostgresServer | None]:
    if BACKEND != "postgres":
        yield None
        return
    with PostgresServer() as server:
        use_postgres(server)
        yield server
        use_postgres(None)


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


@pytest.fixture(scope="module")
def live_server(
    postgres_server: PostgresServer | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UvicornServer]:
    """uvicorn with two workers on a fresh database of the pass, for a module whose tests race
    requests through HTTP (each test registers users of its own)."""
    home = tmp_path_factory.mktemp("live")
    env = {"DATABASE_URL": fresh_database_url(home), "PASSWORD_HASH_ROUNDS": "4"}
    with UvicornServer(env, cwd=home, workers=2) as server:
        yield server
