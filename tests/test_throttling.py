from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.databases import make_settings
from tests.helpers import PASSWORD, ApiClient, unique_email
from tests.services import RedisServer

STRICT = {
    "LOGIN_FAILURE_LIMIT_PER_ACCOUNT": "3/15 minutes",
    "LOGIN_FAILURE_LIMIT_PER_ADDRESS": "6/15 minutes",
    "REGISTRATION_LIMIT_PER_ADDRESS": "3/hour",
    "REFRESH_LIMIT_PER_ADDRESS": "3/minute",
}


def strict_client(tmp_path: Path, **extra: str) -> TestClient:
    return TestClient(create_app(make_settings(tmp_path, **{**STRICT, **extra})))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[ApiClient]:
    with strict_client(tmp_path) as http:
        yield ApiClient(http)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def fail_logins(client: ApiClient, email: str, times: int) -> list[int]:
    return [client.token(email, "wrong password!").status_code for _ in range(times)]


def assert_throttled(response: object) -> None:
    assert response.status_code == 429  # type: ignore[attr-defined]
    assert int(response.headers["retry-after"]) > 0  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["error"] == "slow_down"
    assert "try again in" in body["error_description"]


def test_failed_logins_are_throttled_per_account(client: ApiClient) -> None:
    email = unique_email()
    client.register(email)
    assert fail_logins(client, email, 3) == [400, 400, 400]
    assert_throttled(client.token(email, "wrong password!"))


def test_a_throttled_account_is_refused_even_with_the_right_password(client: ApiClient) -> None:
    email = unique_email()
    client.register(email)
    fail_logins(client, email, 3)
    assert_throttled(client.token(email, PASSWORD))


def test_unknown_emails_are_throttled_exactly_like_real_ones(client: ApiClient) -> None:
    real, ghost = unique_email(), unique_email()
    client.register(real)
    real_statuses = fail_logins(client, real, 4)
    ghost_statuses = fail_logins(client, ghost, 4)
    assert real_statuses == ghost_statuses == [400, 400, 400, 429]


def test_successful_logins_are_not_counted(client: ApiClient) -> None:
    email = unique_email()
    client.register(email)
    assert [client.token(email).status_code for _ in range(5)] == [200] * 5


def test_failed_logins_are_throttled_per_address(client: ApiClient) -> None:
    for i in range(3):
        fail_logins(client, f"spray{i}@example.com", 2)
    assert_throttled(client.token("fresh@example.com", "wrong password!"))


def test_registrations_are_throttled_per_address(client: ApiClient) -> None:
    assert [client.register().status_code for _ in range(3)] == [201] * 3
    response = client.register()
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "try again in" in response.json()["detail"]


def test_refreshes_are_throttled_per_address(client: ApiClient) -> None:
    _, token = client.new_user()
    current = token["refresh_token"]
    for _ in range(3):
        response = client.refresh(current)
        assert response.status_code == 200
        current = response.json()["refresh_token"]
    assert_throttled(client.refresh(current))


def test_spoofed_forwarded_for_does_not_change_the_address(client: ApiClient) -> None:
    for i in range(6):
        client.http.post(
            "/auth/token",
            data={"username": f"x{i}@example.com", "password": "wrong password!"},
            headers={"X-Forwarded-For": f"203.0.113.{i}"},
        )
    assert_throttled(client.token("y@example.com", "wrong password!"))


def test_counters_in_redis_are_shared_between_app_instances(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    redis_server.restart()  # fresh counters
    email = unique_email()
    with strict_client(tmp_path, REDIS_URL=redis_server.url) as first:
        ApiClient(first).register(email)
        assert fail_logins(ApiClient(first), email, 3) == [400, 400, 400]
    with strict_client(tmp_path, REDIS_URL=redis_server.url) as second:
        assert_throttled(ApiClient(second).token(email, "wrong password!"))


def test_login_still_works_when_redis_is_down(
    tmp_path: Path, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    email = unique_email()
    with strict_client(tmp_path, REDIS_URL=redis_server.url) as http:
        client = ApiClient(http)
        client.register(email)
        redis_server.stop()
        try:
            assert client.token(email).status_code == 200
            assert fail_logins(client, email, 4) == [400, 400, 400, 429]
        finally:
            redis_server.start()
    assert "Redis unreachable" in caplog.text
