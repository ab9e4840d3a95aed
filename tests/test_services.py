"""The test servers themselves start, answer, restart and clean up."""

import secrets
import socket
import urllib.request
from pathlib import Path

import psycopg

from tests.services import PostgresServer, RedisServer, UvicornServer, free_port


def _select_one(url: str) -> int:
    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute("SELECT 1").fetchone()
    assert row is not None
    value: int = row[0]
    return value


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_postgres_starts_restarts_and_resets() -> None:
    with PostgresServer() as pg:
        assert pg.url == f"postgresql://stockroom@127.0.0.1:{pg.port}/stockroom"
        assert _select_one(pg.url) == 1
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (id int)")

        pg.stop()
        assert not pg.running
        pg.restart()
        assert _select_one(pg.url) == 1
        with psycopg.connect(pg.url) as conn:
            assert conn.execute("SELECT to_regclass('kept')").fetchone() == ("kept",)

        idle = psycopg.connect(pg.url)  # reset must end connections still open
        pg.reset()
        idle.close()
        with psycopg.connect(pg.url) as conn:
            assert conn.execute("SELECT to_regclass('kept')").fetchone() == (None,)
        tmpdir = pg.tmpdir
    assert not pg.running
    assert not tmpdir.exists()


def test_redis_answers_ping_and_restarts() -> None:
    with RedisServer() as redis:
        assert redis.url == f"redis://127.0.0.1:{redis.port}/0"
        with socket.create_connection(("127.0.0.1", redis.port), timeout=5) as sock:
            sock.sendall(b"PING\r\n")
            assert sock.recv(64) == b"+PONG\r\n"
        redis.restart()
        assert redis.ping()
    assert not redis.ping()


def test_uvicorn_serves_docs(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite",
        "SECRET_KEY": secrets.token_urlsafe(36),  # 48 characters
        "PASSWORD_HASH_ROUNDS": "4",
    }
    with UvicornServer(env) as server:
        with urllib.request.urlopen(server.base_url + "/docs", timeout=10) as response:  # noqa: S310
            assert response.status == 200
            assert "server" not in {name.lower() for name in response.headers}
        assert server.worker_pids() == []
        assert "Application startup complete" in server.log()
    assert not server.running
