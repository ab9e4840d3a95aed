"""422 answers name the field and the problem, and never carry the submitted value back: it may
be a password, and echoing it puts it in logs, caches and screenshots."""

from typing import Any

import pytest

from tests.helpers import ApiClient, assert_no_echo, bearer

MARKER = "Zq7secretmarker"


def assert_refused_without_echo(response: Any) -> None:
    assert response.status_code == 422, response.text
    assert MARKER.lower() not in response.text.lower()
    assert_no_echo(response.json())


@pytest.mark.parametrize(
    "body",
    [
        {"email": f"{MARKER}-not-an-address", "password": "long enough password"},
        {"email": "someone@example.com", "password": MARKER[:6]},  # too short
        {"email": f"{MARKER}@example.com", "password": f"{MARKER}@example.com"},  # whole-body rule
        {"email": "someone@example.com", "password": "long enough password", "extra": MARKER},
    ],
    ids=["bad-email", "short-password", "password-is-email", "unknown-field"],
)
def test_registration_errors_do_not_echo_the_body(client: ApiClient, body: dict[str, str]) -> None:
    assert_refused_without_echo(client.http.post("/auth/register", json=body))


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Lamp", "price": MARKER},
        {"name": "Lamp", "price": "1.00", "description": MARKER * 200},  # too long
        {"name": "Lamp", "price": "1.00", "owner_id": MARKER},
    ],
    ids=["bad-price", "long-description", "unknown-field"],
)
def test_product_errors_do_not_echo_the_body(client: ApiClient, body: dict[str, str]) -> None:
    headers = client.headers()
    assert_refused_without_echo(client.http.post("/products", json=body, headers=headers))


def test_query_errors_do_not_echo_the_value(client: ApiClient) -> None:
    headers = client.headers()
    assert_refused_without_echo(client.http.get(f"/products?limit={MARKER}", headers=headers))


def test_password_change_errors_do_not_echo_the_passwords(client: ApiClient) -> None:
    _, token = client.new_user()
    body = {"current_password": MARKER, "new_password": "password1"}  # a common one
    response = client.http.post(
        "/users/me/password", json=body, headers=bearer(token["access_token"])
    )
    assert_refused_without_echo(response)
