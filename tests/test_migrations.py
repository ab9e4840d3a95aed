import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import models.tables  # noqa: F401
from api.config import Settings
from api.main import create_app
from migrations import HEAD
from tests.databases import BACKEND, execute_sql, make_settings
from tests.helpers import ApiClient
from tests.services import sync_url

REPO = Path(__file__).resolve().parent.parent


def test_models_and_migrations_agree(client: ApiClient, settings: Settings) -> None:
    """Fails when a model changed without a migration (what `alembic revision --autogenerate`
    would find)."""
    engine = create_engine(sync_url(settings.DATABASE_URL))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_start_up_brings_an_empty_database_to_head(client: ApiClient) -> None:
    response = client.http.get("/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_health_answers_without_auth(client: ApiClient) -> None:
    assert client.http.get("/health").json() == {"status": "ok", "detail": None}


@pytest.fixture
def revision_restored(settings: Settings) -> Iterator[None]:
    """The pass's database back at head afterwards: the next test starts an app on it."""
    yield
    execute_sql(settings, "UPDATE alembic_version SET version_num = :head", head=HEAD)


@pytest.mark.usefixtures("revision_restored")
def test_ready_is_503_when_the_schema_is_behind(client: ApiClient, settings: Settings) -> None:
    execute_sql(settings, "UPDATE alembic_version SET version_num = '0001'")
    response = client.http.get("/ready")
    assert response.status_code == 503
    assert "schema" in response.json()["detail"]


@pytest.mark.usefixtures("revision_restored")
def test_ready_stays_ready_when_a_later_release_migrated_the_schema(
    client: ApiClient, settings: Settings
) -> None:
    """The release before keeps serving while the next one rolls out: its migrations only add."""
    execute_sql(settings, "UPDATE alembic_version SET version_num = '9999_from_a_later_release'")
    response = client.http.get("/ready")
    assert response.status_code == 200
    assert "ahead" in response.json()["detail"]


@pytest.mark.usefixtures("revision_restored")
def test_the_release_before_starts_on_a_schema_a_later_release_migrated(
    client: ApiClient, settings: Settings
) -> None:
    execute_sql(settings, "UPDATE alembic_version SET version_num = '9999_from_a_later_release'")
    with TestClient(create_app(settings)) as again:
        assert again.get("/ready").status_code == 200
    assert execute_sql(settings, "SELECT version_num FROM alembic_version") == [
        ("9999_from_a_later_release",)
    ]


def run_cli(args: list[str], settings: Settings) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": settings.DATABASE_URL, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        args, env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )


def test_stockroom_migrate_upgrades_by_hand(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    if BACKEND == "postgres":
        execute_sql(settings, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    result = run_cli([sys.executable, "-m", "api", "migrate"], settings)
    assert result.returncode == 0, result.stderr
    assert "at revision" in result.stdout
    tables = execute_sql(settings, "SELECT version_num FROM alembic_version")
    assert len(tables) == 1


def test_alembic_command_line_upgrades_too(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    if BACKEND == "postgres":
        execute_sql(settings, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    alembic = str(Path(sys.executable).with_name("alembic"))
    result = run_cli([alembic, "upgrade", "head"], settings)
    assert result.returncode == 0, result.stderr
    assert execute_sql(settings, "SELECT count(*) FROM users") == [(0,)]
