"""Every limit under a parallel burst, the way an attacker sends one: many clients held at a
barrier, released at once, each on its own connection (and, where the limit is per account,
each from another forwarded address), against a real server. A limit holds when no more
requests than it allows get past it, on one worker (SQLite, counters in the process) and on
four (PostgreSQL, counters in Redis).

The password hash is made slow enough that the burst is all in flight together: a limit that
read its counter before the hash and counted after it let every request of such a burst in.
"""

import itertools
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from tests.databases import BACKEND
from tests.helpers import PASSWORD, bearer, link_token, unique_email
from tests.services import PostgresServer, RedisServer, SmtpServer, UvicornServer

# Each kind of server starts its own services; the PostgreSQL pass need not repeat them.
pytestmark = pytest.mark.skipif(BACKEND == "postgres", reason="runs once, in the SQLite pass")

CLIENTS = 24
LIMIT = 4
WRONG = "not the password at all"
NEW_PASSWORD = "a brand new passphrase"
_addresses = itertools.count(1)


def limits_env() -> dict[str, str]:
    rate = f"{LIMIT}/hour"
    return {
        "SECRET_KEY": secrets.token_urlsafe(48),
        # About 20 ms a hash: a burst's hashes overlap, as they would at the production cost.
        "PASSWORD_HASH_ROUNDS": "8",
        "LOGIN_FAILURE_LIMIT_PER_ACCOUNT": rate,
        "LOGIN_FAILURE_LIMIT_PER_ADDRESS": rate,
        "REGISTRATION_LIMIT_PER_ADDRESS": rate,
        "REFRESH_LIMIT_PER_ADDRESS": rate,
        "PASSWORD_RESET_LIMIT_PER_ACCOUNT": rate,
        "PASSWORD_RESET_LIMIT_PER_ADDRESS": "100000/hour",
        "VERIFICATION_MAIL_LIMIT_PER_ACCOUNT": rate,
        "EMAIL_CHANGE_LIMIT_PER_ACCOUNT": rate,
        "MAIL_LIMIT_PER_RECIPIENT": "100000/hour",
        "MAX_CONCURRENT_REQUESTS": "1000",
        "MAIL_POLL_SECONDS": "0.05",
        "PUBLIC_APP_URL": "https://app.example.test",
    }


@dataclass
class Target:
    server: UvicornServer
    smtp: SmtpServer

    def client(self, address: str | None = None) -> httpx.Client:
        """A client of its own; `address` is what the balancer in front would forward."""
        headers = {"X-Forwarded-For": address} if address else {}
        limits = httpx.Limits(max_keepalive_connections=0)
        return httpx.Client(
            base_url=self.server.base_url, headers=headers, limits=limits, timeout=60
        )

    def new_user(self) -> tuple[str, dict[str, str]]:
        email = unique_email()
        with self.client(fresh_address()) as http:
            created = http.post("/auth/register", json={"email": email, "password": PASSWORD})
            assert created.status_code == 201, created.text
            token = http.post("/auth/token", data={"username": email, "password": PASSWORD})
            assert token.status_code == 200, token.text
        return email, token.json()


def fresh_address() -> str:
    number = next(_addresses)
    return f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"


@pytest.fixture(scope="module", params=["one worker, SQLite", "four workers, PostgreSQL + Redis"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    home = tmp_path_factory.mktemp("bursts")
    env = limits_env()
    args = ["--forwarded-allow-ips", "127.0.0.1"]
    with SmtpServer() as smtp:
        env["SMTP_URL"] = smtp.url
        if request.param.startswith("one"):
            env["DATABASE_URL"] = f"sqlite:///{home / 'stockroom.db'}"
            with UvicornServer(env, cwd=home, extra_args=args) as server:
                yield Target(server, smtp)
            return
        with PostgresServer() as postgres, RedisServer() as redis:
            env |= {"DATABASE_URL": postgres.url, "REDIS_URL": redis.url}
            with UvicornServer(env, cwd=home, workers=4, extra_args=args) as server:
                yield Target(server, smtp)


def burst(
    target: Target, send: Callable[[httpx.Client], httpx.Response], *, spread: bool
) -> Counter[int]:
    """`CLIENTS` requests released together; their statuses. `spread`: each from another
    forwarded address, so only a limit per account can stop them."""
    barrier = threading.Barrier(CLIENTS)

    def one(_: int) -> int:
        with target.client(fresh_address() if spread else "192.0.2.1") as http:
            http.get("/health")  # connected before the barrier, so the requests race
            barrier.wait()
            return send(http).status_code

    with ThreadPoolExecutor(CLIENTS) as pool:
        return Counter(pool.map(one, range(CLIENTS)))


def assert_limit_held(statuses: Counter[int], passed: int, refused: int = 429) -> None:
    assert statuses[passed] <= LIMIT, statuses
    assert statuses[refused] >= CLIENTS - LIMIT, statuses
    assert set(statuses) <= {passed, refused, 400, 409}, statuses


def test_a_burst_of_wrong_passwords_checks_at_most_the_limit(target: Target) -> None:
    email, _ = target.new_user()
    statuses = burst(
        target,
        lambda http: http.post("/auth/token", data={"username": email, "password": WRONG}),
        spread=True,
    )
    assert statuses[400] <= LIMIT, statuses
    assert statuses[429] >= CLIENTS - LIMIT, statuses


def test_a_burst_ending_in_the_right_password_checks_at_most_the_limit(target: Target) -> None:
    email, _ = target.new_user()
    passwords = iter([WRONG] * (CLIENTS - 1) + [PASSWORD])
    lock = threading.Lock()

    def guess(http: httpx.Client) -> httpx.Response:
        with lock:
            password = next(passwords)
        return http.post("/auth/token", data={"username": email, "password": password})

    statuses = burst(target, guess, spread=True)
    assert statuses[400] + statuses[200] <= LIMIT, statuses  # passwords checked


def test_a_burst_of_current_password_guesses_checks_at_most_the_limit(target: Target) -> None:
    _, token = target.new_user()
    body = {"current_password": WRONG, "new_password": NEW_PASSWORD}
    statuses = burst(
        target,
        lambda http: http.post(
            "/users/me/password", json=body, headers=bearer(token["access_token"])
        ),
        spread=True,
    )
    assert statuses[400] <= LIMIT, statuses
    assert statuses[429] >= CLIENTS - LIMIT, statuses


def test_a_burst_of_registrations_from_one_address_creates_at_most_the_limit(
    target: Target,
) -> None:
    statuses = burst(
        target,
        lambda http: http.post(
            "/auth/register", json={"email": unique_email(), "password": PASSWORD}
        ),
        spread=False,
    )
    assert_limit_held(statuses, passed=201)


def test_a_burst_of_refreshes_from_one_address_grants_at_most_the_limit(target: Target) -> None:
    _, token = target.new_user()
    statuses = burst(
        target,
        lambda http: http.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        ),
        spread=False,
    )
    assert statuses[200] + statuses[400] <= LIMIT, statuses
    assert statuses[429] >= CLIENTS - LIMIT, statuses


def test_a_burst_of_reset_requests_for_one_account_mails_at_most_the_limit(
    target: Target,
) -> None:
    email, _ = target.new_user()
    statuses = burst(
        target,
        lambda http: http.post("/auth/password-reset/request", json={"email": email}),
        spread=True,
    )
    assert_limit_held(statuses, passed=202)


def test_a_burst_of_verification_resends_mails_at_most_the_limit(target: Target) -> None:
    _, token = target.new_user()
    statuses = burst(
        target,
        lambda http: http.post("/auth/verify-email/resend", headers=bearer(token["access_token"])),
        spread=True,
    )
    assert_limit_held(statuses, passed=202)


def test_a_burst_of_address_changes_changes_at_most_the_limit(target: Target) -> None:
    _, token = target.new_user()
    statuses = burst(
        target,
        lambda http: http.patch(
            "/users/me",
            json={"email": unique_email("moved"), "current_password": PASSWORD},
            headers=bearer(token["access_token"]),
        ),
        spread=True,
    )
    assert_limit_held(statuses, passed=200)


def test_the_right_password_after_a_spent_burst_is_refused_unchecked(target: Target) -> None:
    email, _ = target.new_user()
    burst(
        target,
        lambda http: http.post("/auth/token", data={"username": email, "password": WRONG}),
        spread=True,
    )
    with target.client(fresh_address()) as http:
        response = http.post("/auth/token", data={"username": email, "password": PASSWORD})
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0


def test_a_reset_link_from_a_burst_still_works(target: Target) -> None:
    """The limit holds without breaking the flow it guards: the newest link sets the password."""
    email, _ = target.new_user()
    statuses = burst(
        target,
        lambda http: http.post("/auth/password-reset/request", json={"email": email}),
        spread=True,
    )
    mails = [target.smtp.wait_for_mail(email, "Reset", count=n + 1) for n in range(statuses[202])]
    with target.client(fresh_address()) as http:
        confirmed = [
            http.post(
                "/auth/password-reset/confirm",
                json={"token": link_token(mail, "/reset-password"), "new_password": NEW_PASSWORD},
            ).status_code
            for mail in mails
        ]
    assert sorted(confirmed) == [204] + [400] * (len(mails) - 1)
