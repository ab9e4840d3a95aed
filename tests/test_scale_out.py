"""Several uvicorn workers sharing PostgreSQL and Redis, and the faults they must survive.

Requests go without keep-alive, one connection each, so they spread over the workers.
"""

import itertools
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import httpx
import psycopg
import pytest

from api.errors import DATABASE_RETRY_AFTER_S
from tests.databases import BACKEND
from tests.helpers import (
    PASSWORD,
    assert_every_worker_answers_401,
    bearer,
    no_keep_alive,
    unique_email,
)
from tests.services import PostgresServer, RedisServer, UvicornServer, wait_for

# These start their own PostgreSQL and Redis; the PostgreSQL pass of the suite need not repeat them.
pytestmark = pytest.mark.skipif(BACKEND == "postgres", reason="runs once, in the SQLite pass")

KEY = secrets.token_urlsafe(48)
CONNECT_TIMEOUT_S = 2.0


def server_env(postgres: PostgresServer, redis: RedisServer | None = None) -> dict[str, str]:
    env = {
        "DATABASE_URL": postgres.url,
        "SECRET_KEY": KEY,
        "PASSWORD_HASH_ROUNDS": "4",
        "LOGIN_FAILURE_LIMIT_PER_ACCOUNT": "5/15 minutes",
        "LOGIN_FAILURE_LIMIT_PER_ADDRESS": "100000/hour",
        "REGISTRATION_LIMIT_PER_ADDRESS": "100000/hour",
        "DB_CONNECT_TIMEOUT_SECONDS": str(CONNECT_TIMEOUT_S),
        "DB_POOL_TIMEOUT_SECONDS": "3",
        # The SIGKILL test holds INSERTs on an operator's lock on purpose, for longer than the
        # default statement timeout may allow on a slow machine.
        "DB_STATEMENT_TIMEOUT_SECONDS": "60",
    }
    if redis is not None:
        env["REDIS_URL"] = redis.url
    return env


def login(http: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = http.post("/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    token: dict[str, str] = response.json()
    return token


def new_user(http: httpx.Client) -> tuple[str, dict[str, str]]:
    email = unique_email()
    assert (
        http.post("/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
    )
    return email, login(http, email)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UvicornServer]:
    with PostgresServer() as postgres, RedisServer() as redis:
        cwd = tmp_path_factory.mktemp("cluster")
        with UvicornServer(server_env(postgres, redis), workers=4, cwd=cwd) as server:
            yield server


@pytest.fixture
def http(cluster: UvicornServer) -> Iterator[httpx.Client]:
    with no_keep_alive(cluster.base_url) as client:
        yield client


def test_four_workers_share_one_postgres(cluster: UvicornServer, http: httpx.Client) -> None:
    assert len(cluster.worker_pids()) == 4
    assert http.get("/ready").json()["status"] == "ok"


def test_logout_is_honoured_by_every_worker(cluster: UvicornServer, http: httpx.Client) -> None:
    _, token = new_user(http)
    headers = bearer(token["access_token"])
    assert http.post("/auth/logout", headers=headers).status_code == 204
    assert_every_worker_answers_401(cluster, http, headers)


def test_password_change_is_honoured_by_every_worker(
    cluster: UvicornServer, http: httpx.Client
) -> None:
    email, mine = new_user(http)
    other = login(http, email)
    body = {"current_password": PASSWORD, "new_password": "another long passphrase"}
    response = http.post("/users/me/password", json=body, headers=bearer(mine["access_token"]))
    assert response.status_code == 204
    assert_every_worker_answers_401(cluster, http, bearer(other["access_token"]))


def test_the_old_password_is_refused_after_a_change(http: httpx.Client) -> None:
    email, mine = new_user(http)
    body = {"current_password": PASSWORD, "new_password": "another long passphrase"}
    response = http.post("/users/me/password", json=body, headers=bearer(mine["access_token"]))
    assert response.status_code == 204
    form = {"username": email, "password": PASSWORD}
    # Four, not more: the fifth failure for one account would be throttled (429).
    assert {http.post("/auth/token", data=form).status_code for _ in range(4)} == {400}


def test_login_throttling_counts_across_workers(http: httpx.Client) -> None:
    email, _ = new_user(http)
    form = {"username": email, "password": "wrong password!"}
    statuses = [http.post("/auth/token", data=form).status_code for _ in range(6)]
    assert statuses == [400] * 5 + [429]


def test_eight_concurrent_identical_registrations_give_one_201(http: httpx.Client) -> None:
    body = {"email": unique_email(), "password": PASSWORD}
    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(
            pool.map(lambda _: http.post("/auth/register", json=body).status_code, range(8))
        )
    assert statuses == [201] + [409] * 7


def test_two_hundred_concurrent_mixed_requests_give_no_5xx(http: httpx.Client) -> None:
    _, token = new_user(http)
    headers = bearer(token["access_token"])
    product = http.post("/products", json={"name": "seed", "price": "1"}, headers=headers).json()

    def request(i: int) -> int:
        kind = i % 5
        if kind == 0:
            return http.post(
                "/products", json={"name": f"p{i}", "price": "2.50"}, headers=headers
            ).status_code
        if kind == 1:
            return http.get("/products?limit=20", headers=headers).status_code
        if kind == 2:
            return http.get(f"/products/{product['id']}", headers=headers).status_code
        if kind == 3:
            return http.patch(
                f"/products/{product['id']}", json={"price": str(i)}, headers=headers
            ).status_code
        return http.get("/users/me", headers=headers).status_code

    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(request, range(200)))
    assert all(status < 500 for status in statuses), statuses
    assert statuses.count(201) == 40


# --- PostgreSQL outage -----------------------------------------------------------------------


class Outage(NamedTuple):
    postgres: PostgresServer
    server: UvicornServer
    http: httpx.Client
    headers: dict[str, str]


@pytest.fixture
def outage(tmp_path: Path) -> Iterator[Outage]:
    """One worker whose PostgreSQL has been stopped after a user logged in."""
    with (
        PostgresServer() as postgres,
        UvicornServer(server_env(postgres), cwd=tmp_path) as server,
        no_keep_alive(server.base_url) as http,
    ):
        _, token = new_user(http)
        postgres.stop()
        yield Outage(postgres, server, http, bearer(token["access_token"]))


def test_requests_answer_503_with_retry_after_within_the_connect_timeout_while_postgres_is_down(
    outage: Outage,
) -> None:
    started = time.monotonic()
    response = outage.http.get("/products", headers=outage.headers)
    answered_in_s = time.monotonic() - started
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "database" in response.json()["detail"]
    assert response.headers["retry-after"] == str(DATABASE_RETRY_AFTER_S)
    assert DATABASE_RETRY_AFTER_S == 5  # the value README's timeouts table promises
    # The one wall-clock bound in these tests: README promises the 503 "within the connect
    # timeout" (DB_CONNECT_TIMEOUT_SECONDS), so that documented bound is what is checked.
    assert answered_in_s <= CONNECT_TIMEOUT_S, f"503 after {answered_in_s:.2f} s"
    assert "Traceback" not in outage.server.log()


def test_ready_answers_503_and_health_200_while_postgres_is_down(outage: Outage) -> None:
    assert outage.http.get("/ready").status_code == 503
    assert outage.http.get("/health").status_code == 200
    assert "Traceback" not in outage.server.log()


def test_the_api_recovers_by_itself_when_postgres_is_back(outage: Outage) -> None:
    assert outage.http.get("/products", headers=outage.headers).status_code == 503
    outage.postgres.start()
    wait_for(
        lambda: outage.http.get("/products", headers=outage.headers).status_code == 200,
        "GET /products to answer 200 after PostgreSQL restarted",
        timeout=60,
        interval=0.1,
    )
    assert "Traceback" not in outage.server.log()


def test_login_works_while_redis_is_down(tmp_path: Path) -> None:
    with PostgresServer() as postgres, RedisServer() as redis:
        with UvicornServer(server_env(postgres, redis), cwd=tmp_path) as server:
            with no_keep_alive(server.base_url) as http:
                email, _ = new_user(http)
                redis.stop()
                assert (
                    http.post(
                        "/auth/token", data={"username": email, "password": PASSWORD}
                    ).status_code
                    == 200
                )
                bad = {"username": email, "password": "wrong password!"}
                assert http.post("/auth/token", data=bad).status_code == 400
            assert "Redis unreachable" in server.log()


# --- a worker killed while it serves a create ------------------------------------------------


class Ack(NamedTuple):
    """A create answered 201."""

    product_id: int
    answered_before_kill: bool
    sent_after_kill: bool


# Fewer clients than a worker's pool (DB_POOL_SIZE, 10): no request ever waits for a connection,
# so every answer the clients get is a 201.
CLIENTS = 8
WAITING_CREATES = """
    SELECT application_name FROM pg_stat_activity
    WHERE wait_event_type = 'Lock' AND query ILIKE 'INSERT INTO products%%'
      AND application_name = ANY(%s)
"""


def test_a_worker_killed_while_serving_a_create_loses_no_acknowledged_create(
    tmp_path: Path,
) -> None:
    """Creates stream in; an operator's table lock holds every INSERT; a worker with an INSERT
    waiting on that lock is SIGKILLed; the lock is released. The request the dead worker was
    serving gets no answer, the other worker carries on, and every create answered 201 is stored.

    The app names each PostgreSQL connection `stockroom-<pid of the worker>`, which is how the
    test sees, in pg_stat_activity, that the worker it kills has a create in flight.
    """
    with (
        PostgresServer() as postgres,
        UvicornServer(server_env(postgres), workers=2, cwd=tmp_path) as server,
        no_keep_alive(server.base_url) as http,
    ):
        _, token = new_user(http)
        headers = bearer(token["access_token"])
        workers = server.worker_pids()
        assert len(workers) == 2, workers
        names = [f"stockroom-{pid}" for pid in workers]

        killed = threading.Event()
        stop = threading.Event()
        lock = threading.Lock()
        numbers = itertools.count()
        acknowledged: list[Ack] = []
        statuses: list[int] = []
        unanswered: list[httpx.TransportError] = []

        def client() -> None:
            while not stop.is_set():
                sent_after_kill = killed.is_set()
                body = {"name": f"n{next(numbers)}", "price": "1.25"}
                try:
                    response = http.post("/products", json=body, headers=headers)
                except httpx.TransportError as error:
                    with lock:  # the connection died with the worker: no answer, no promise
                        unanswered.append(error)
                    continue
                answered_before_kill = not killed.is_set()
                with lock:
                    statuses.append(response.status_code)
                    if response.status_code == 201:
                        ack = Ack(response.json()["id"], answered_before_kill, sent_after_kill)
                        acknowledged.append(ack)

        def count(predicate: Callable[[Ack], bool]) -> int:
            with lock:
                return sum(1 for ack in acknowledged if predicate(ack))

        def before() -> int:
            return count(lambda ack: ack.answered_before_kill)

        def after() -> int:
            return count(lambda ack: ack.sent_after_kill)

        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = [pool.submit(client) for _ in range(CLIENTS)]
            try:
                wait_for(lambda: before() >= 40, "40 creates acknowledged before the lock")
                with (
                    psycopg.connect(postgres.url, autocommit=False, connect_timeout=10) as operator,
                    psycopg.connect(postgres.url, autocommit=True, connect_timeout=10) as monitor,
                ):
                    operator.execute("LOCK TABLE products IN SHARE ROW EXCLUSIVE MODE")

                    def waiting() -> list[str]:
                        rows = monitor.execute(WAITING_CREATES, [names]).fetchall()
                        return sorted(row[0] for row in rows)

                    in_flight = wait_for(waiting, "an INSERT from a worker waiting on the lock")
                    assert isinstance(in_flight, list)
                    victim = next(pid for pid in workers if f"stockroom-{pid}" in in_flight)
                    os.kill(victim, signal.SIGKILL)
                    killed.set()
                    operator.rollback()  # releases the lock
                wait_for(lambda: after() >= 40, "40 creates sent after the kill acknowledged")
            finally:
                stop.set()
                for future in futures:
                    future.result(timeout=60)

        # Each INSERT the victim had waiting was a request whose connection died unanswered.
        assert len(unanswered) >= in_flight.count(f"stockroom-{victim}") >= 1, unanswered
        wait_for(lambda: victim not in server.worker_pids(), f"worker {victim} to be gone")
        assert set(statuses) == {201}, statuses
        assert before() >= 40
        assert after() >= 40
        assert len(acknowledged) > 60
        with psycopg.connect(postgres.url, connect_timeout=10) as conn:
            stored = {row[0] for row in conn.execute("SELECT id FROM products").fetchall()}
        missing = {ack.product_id for ack in acknowledged} - stored
        assert not missing, f"acknowledged but not stored: {sorted(missing)}"
