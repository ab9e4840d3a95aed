"""PostgreSQL or Redis behind a link that goes silent (a partition: no RST, no FIN, no bytes),
at the default timeouts: every request gets a bounded answer, and service resumes by itself.

The answer times asserted here are the README's promises, the only wall-clock bounds in the
suite: 503 within 10 s for what needs the database, 2 s for what Redis only counts.
"""

import secrets
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy.engine import make_url

from api.errors import DATABASE_RETRY_AFTER_S
from tests.databases import BACKEND, execute_sql, fresh_database_url, make_settings
from tests.helpers import PASSWORD, bearer, unique_email
from tests.services import PostgresServer, RedisServer, TcpRelay, UvicornServer, wait_for

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="runs in the PostgreSQL pass")

DATABASE_ANSWER_S = 10
REDIS_ANSWER_S = 2
HEALTH_ANSWER_S = 1
RECOVERY_S = 10

Call = Callable[[httpx.Client], httpx.Response]


@dataclass
class Timed:
    name: str
    response: httpx.Response
    seconds: float


def timed(name: str, base_url: str, call: Call) -> Timed:
    with httpx.Client(base_url=base_url, timeout=60) as http:
        started = time.monotonic()
        response = call(http)
        return Timed(name, response, time.monotonic() - started)


def all_at_once(base_url: str, calls: dict[str, Call]) -> list[Timed]:
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(timed, name, base_url, call) for name, call in calls.items()]
        return [future.result(timeout=120) for future in futures]


@dataclass
class Account:
    email: str
    access: dict[str, str]
    refresh_token: str
    product_id: int


def new_account(http: httpx.Client) -> Account:
    email = unique_email()
    assert (
        http.post("/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
    )
    token = http.post("/auth/token", data={"username": email, "password": PASSWORD}).json()
    headers = bearer(token["access_token"])
    created = http.post("/products", json={"name": "before", "price": "1"}, headers=headers)
    assert created.status_code == 201
    return Account(email, headers, token["refresh_token"], created.json()["id"])


def database_calls(account: Account) -> dict[str, Call]:
    """One request of every kind that needs the database."""
    product = f"/products/{account.product_id}"
    return {
        "read": lambda http: http.get(product, headers=account.access),
        "list": lambda http: http.get("/products", headers=account.access),
        "create": lambda http: http.post(
            "/products", json={"name": "during", "price": "2"}, headers=account.access
        ),
        "update": lambda http: http.patch(product, json={"price": "3"}, headers=account.access),
        "me": lambda http: http.get("/users/me", headers=account.access),
        "login": lambda http: http.post(
            "/auth/token", data={"username": account.email, "password": PASSWORD}
        ),
        "refresh": lambda http: http.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": account.refresh_token},
        ),
        "register": lambda http: http.post(
            "/auth/register", json={"email": unique_email(), "password": PASSWORD}
        ),
    }


def assert_bounded_503(answers: list[Timed]) -> None:
    for answer in answers:
        response = answer.response
        assert response.status_code == 503, (answer.name, response.status_code, response.text)
        assert response.headers["retry-after"] == str(DATABASE_RETRY_AFTER_S), answer.name
        assert response.json()["detail"], answer.name
        assert answer.seconds <= DATABASE_ANSWER_S, (answer.name, answer.seconds)


def env(**extra: str) -> dict[str, str]:
    return {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PASSWORD_HASH_ROUNDS": "4",
        "REGISTRATION_LIMIT_PER_ADDRESS": "100000/hour",
        "LOGIN_FAILURE_LIMIT_PER_ADDRESS": "100000/hour",
        "REFRESH_LIMIT_PER_ADDRESS": "100000/hour",
        **extra,
    }


@dataclass
class Behind:
    """A Stockroom server that reaches a service through a relay the test can silence."""

    server: UvicornServer
    link: TcpRelay
    direct_url: str


@pytest.fixture
def silent_database(postgres_server: PostgresServer | None, tmp_path: Path) -> Iterator[Behind]:
    direct_url = fresh_database_url(tmp_path)
    url = make_url(direct_url)
    assert url.port is not None
    with TcpRelay(url.port) as link:
        relayed = url.set(port=link.port).render_as_string(hide_password=False)
        with UvicornServer(env(DATABASE_URL=relayed), cwd=tmp_path) as server:
            yield Behind(server, link, direct_url)


def stored_product_ids(database_url: str, tmp_path: Path) -> set[int]:
    settings = make_settings(tmp_path, DATABASE_URL=database_url)
    return {row[0] for row in execute_sql(settings, "SELECT id FROM products")}


def test_a_silent_database_costs_every_request_a_bounded_503_and_service_resumes(
    silent_database: Behind, tmp_path: Path
) -> None:
    base_url = silent_database.server.base_url
    with httpx.Client(base_url=base_url, timeout=60) as http:
        account = new_account(http)
    acknowledged = {account.product_id}
    # Fill the pool with open connections, which the partition will leave dangling.
    warm = {f"warm{n}": database_calls(account)["list"] for n in range(12)}
    assert {answer.response.status_code for answer in all_at_once(base_url, warm)} == {200}

    silent_database.link.partition()
    first = all_at_once(base_url, database_calls(account))
    health = timed("health", base_url, lambda http: http.get("/health"))
    ready = timed("ready", base_url, lambda http: http.get("/ready"))
    crowd = {f"{name}{n}": call for n in range(3) for name, call in database_calls(account).items()}
    later = all_at_once(base_url, crowd)
    silent_database.link.heal()

    healed = time.monotonic()
    wait_for(
        lambda: (
            timed("read", base_url, database_calls(account)["read"]).response.status_code == 200
        ),
        "the API to answer again after the link healed",
        interval=0.1,
    )
    recovery_s = time.monotonic() - healed
    with httpx.Client(base_url=base_url, timeout=60) as http:
        after = http.post("/products", json={"name": "after", "price": "4"}, headers=account.access)
    assert after.status_code == 201
    acknowledged.add(after.json()["id"])

    assert_bounded_503(first)
    assert_bounded_503(later)
    assert health.response.status_code == 200 and health.seconds <= HEALTH_ANSWER_S
    assert ready.response.status_code == 503
    assert recovery_s <= RECOVERY_S
    assert acknowledged <= stored_product_ids(silent_database.direct_url, tmp_path)
    print(
        f"\npartition: first wave {max(a.seconds for a in first):.2f} s at most, "
        f"later wave ({len(later)} requests) {max(a.seconds for a in later):.2f} s at most, "
        f"/health {health.seconds:.3f} s, recovered {recovery_s:.2f} s after healing"
    )


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def silent_redis(
    postgres_server: PostgresServer | None, redis_server: RedisServer, tmp_path: Path
) -> Iterator[Behind]:
    database_url = fresh_database_url(tmp_path)
    with TcpRelay(redis_server.port) as link:
        redis_url = f"redis://127.0.0.1:{link.port}/0"
        server_env = env(DATABASE_URL=database_url, REDIS_URL=redis_url)
        with UvicornServer(server_env, cwd=tmp_path) as server:
            yield Behind(server, link, database_url)


def test_a_silent_redis_costs_login_refresh_and_registration_at_most_2_s(
    silent_redis: Behind,
) -> None:
    base_url = silent_redis.server.base_url
    with httpx.Client(base_url=base_url, timeout=60) as http:
        account = new_account(http)
    calls = database_calls(account)
    wrong = {"username": account.email, "password": "not the password"}

    silent_redis.link.partition()
    answers = [
        timed("login", base_url, calls["login"]),
        timed("refresh", base_url, calls["refresh"]),
        timed("register", base_url, calls["register"]),
        timed("failed login", base_url, lambda http: http.post("/auth/token", data=wrong)),
    ]
    silent_redis.link.heal()

    statuses = {answer.name: answer.response.status_code for answer in answers}
    assert statuses == {"login": 200, "refresh": 200, "register": 201, "failed login": 400}
    for answer in answers:
        assert answer.seconds <= REDIS_ANSWER_S, (answer.name, answer.seconds)
    assert "Redis unreachable" in silent_redis.server.log()


def test_counting_returns_to_redis_when_it_answers_again(
    silent_redis: Behind, redis_server: RedisServer
) -> None:
    base_url = silent_redis.server.base_url
    store = redis.Redis.from_url(redis_server.url)
    silent_redis.link.partition()
    failed = timed(
        "failed login",
        base_url,
        lambda http: http.post("/auth/token", data={"username": unique_email(), "password": "x"}),
    )
    assert failed.response.status_code == 400
    silent_redis.link.heal()

    def counted_in_redis() -> bool:
        keys = store.dbsize()
        timed(
            "failed login",
            base_url,
            lambda http: http.post(
                "/auth/token", data={"username": unique_email(), "password": "wrong password!"}
            ),
        )
        return bool(store.dbsize() > keys)

    wait_for(counted_in_redis, "failed logins to be counted in Redis again", interval=0.5)
