from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import PASSWORD, ApiClient, unique_email


def test_register_returns_the_public_user(client: ApiClient) -> None:
    response = client.register("Alice@Example.com")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id",
        "email",
        "full_name",
        "is_active",
        "is_superuser",
        "email_verified",
        "created_at",
    }
    assert body["email_verified"] is False
    assert body["email"] == "alice@example.com"
    assert body["is_active"] is True
    assert body["is_superuser"] is False
    assert "password" not in response.text and "hash" not in response.text


def test_duplicate_email_is_409_whatever_its_case(client: ApiClient) -> None:
    assert client.register("bob@example.com").status_code == 201
    response = client.register("BOB@Example.COM")
    assert response.status_code == 409
    assert "already exists" in response.json()["detail"]


def test_eight_concurrent_identical_registrations_create_exactly_one(client: ApiClient) -> None:
    email = unique_email()
    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(lambda _: client.register(email).status_code, range(8)))
    assert statuses == [201] + [409] * 7


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": PASSWORD},
        {"email": "a@example.com", "password": "short"},
        {"email": "a@example.com"},
        {"password": PASSWORD},
        {"email": "a@example.com", "password": PASSWORD, "is_superuser": True},
        {"email": ["a@example.com"], "password": PASSWORD},
        {"email": "a@example.com", "password": 12345678},
    ],
    ids=[
        "malformed-email",
        "short-password",
        "no-password",
        "no-email",
        "extra-field",
        "wrong-type-email",
        "wrong-type-password",
    ],
)
def test_invalid_registration_is_422_with_a_message(
    client: ApiClient, body: dict[str, object]
) -> None:
    response = client.http.post("/auth/register", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["msg"]


def test_malformed_json_is_422_not_500(client: ApiClient) -> None:
    response = client.http.post(
        "/auth/register", content=b'{"email": "a@', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422


def test_failed_registration_leaves_nothing_behind(client: ApiClient) -> None:
    email = unique_email()
    assert client.register(email, "short").status_code == 422
    assert client.register(email).status_code == 201
