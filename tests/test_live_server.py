"""The app under a real uvicorn, several worker processes, one fresh database.

Each server gets a new empty database of the pass's kind (`fresh_database_url`): a SQLite file,
or in the PostgreSQL pass a new database on the suite's PostgreSQL.
"""

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.databases import BACKEND, fresh_database_url
from tests.helpers import (
    PASSWORD,
    assert_every_worker_answers_401,
    bearer,
    no_keep_alive,
    unique_email,
)
from tests.services import UvicornServer

KEY = secrets.token_urlsafe(48)


def server_env(database_url: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "SECRET_KEY": KEY, "PASSWORD_HASH_ROUNDS": "4"}


@pytest.fixture
def four_workers(tmp_path: Path) -> Iterator[UvicornServer]:
    env = server_env(fresh_database_url(tmp_path))
    with UvicornServer(env, workers=4, cwd=tmp_path) as server:
        yield server


def test_four_workers_start_on_one_fresh_database(four_workers: UvicornServer) -> None:
    with no_keep_alive(four_workers.base_url) as http:
        email = unique_email()
        assert (
            http.post("/auth/register", json={"email": email, "password": PASSWORD}).status_code
            == 201
        )
        assert len(four_workers.worker_pids()) == 4
        assert "Traceback" not in four_workers.log()


def test_concurrent_writes_across_workers_never_hit_a_locked_database(
    four_workers: UvicornServer,
) -> None:
    with no_keep_alive(four_workers.base_url) as http:
        email = unique_email()
        http.post("/auth/register", json={"email": email, "password": PASSWORD})
        token = http.post("/auth/token", data={"username": email, "password": PASSWORD}).json()
        headers = bearer(token["access_token"])

        def create(i: int) -> int:
            body = {"name": f"p{i}", "price": "1.00"}
            return http.post("/products", json=body, headers=headers).status_code

        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(create, range(80)))
        assert statuses == [201] * 80
        assert http.get("/products", headers=headers).json()["total"] == 80
    # SQLite's "database is locked"; on PostgreSQL the check is harmless.
    assert "database is locked" not in four_workers.log()


def test_logout_is_honoured_by_every_worker_at_once(tmp_path: Path) -> None:
    env = server_env(fresh_database_url(tmp_path))
    with (
        UvicornServer(env, workers=2, cwd=tmp_path) as server,
        no_keep_alive(server.base_url) as http,
    ):
        email = unique_email()
        http.post("/auth/register", json={"email": email, "password": PASSWORD})
        token = http.post("/auth/token", data={"username": email, "password": PASSWORD}).json()
        headers = bearer(token["access_token"])
        assert all(http.get("/users/me", headers=headers).status_code == 200 for _ in range(6))
        assert http.post("/auth/logout", headers=headers).status_code == 204
        assert_every_worker_answers_401(server, http, headers)


@pytest.mark.skipif(BACKEND == "postgres", reason="about a SQLite file path; PostgreSQL has none")
def test_server_starts_from_another_directory_with_an_absolute_database_url(
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    db = tmp_path / "data" / "stockroom.db"
    with (
        UvicornServer(server_env(f"sqlite:///{db}"), cwd=elsewhere) as server,
        no_keep_alive(server.base_url) as http,
    ):
        response = http.post("/auth/register", json={"email": unique_email(), "password": PASSWORD})
        assert response.status_code == 201
    assert db.exists()
