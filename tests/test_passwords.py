from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from passlib.hash import bcrypt

from api.config import Settings
from api.main import create_app
from auth.passwords import DEFAULT_ROUNDS, PasswordHasher
from tests.databases import execute_sql, make_settings
from tests.helpers import PASSWORD, ApiClient, bearer, unique_email

PREFIX = "p" * 72
ABSURD = "x" * 100_000


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many bcrypt hashes and verifications the app ran (the real ones, counted)."""
    counts: Counter[str] = Counter()

    def counted(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            counts[name] += 1
            return method(*args)

        return run

    monkeypatch.setattr(PasswordHasher, "hash_sync", counted("hash", PasswordHasher.hash_sync))
    monkeypatch.setattr(
        PasswordHasher, "_verify_sync", counted("verify", PasswordHasher._verify_sync)
    )
    return counts


def test_default_cost_is_bcrypt_12() -> None:
    assert DEFAULT_ROUNDS >= 12
    assert Settings.model_fields["PASSWORD_HASH_ROUNDS"].default >= 12


def test_passwords_differing_after_byte_72_are_different(client: ApiClient) -> None:
    email = unique_email()
    client.register(email, PREFIX + "A")
    assert client.token(email, PREFIX + "A").status_code == 200
    assert client.token(email, PREFIX + "B").status_code == 400


def test_multibyte_passwords_differing_after_byte_72_are_different(client: ApiClient) -> None:
    email = unique_email()
    snowmen = "☃" * 30  # 90 bytes
    client.register(email, snowmen + "A")
    assert client.token(email, snowmen + "A").status_code == 200
    assert client.token(email, snowmen + "B").status_code == 400


def test_a_1024_character_password_works(client: ApiClient) -> None:
    email = unique_email()
    password = "x" * 1023 + "y"
    assert client.register(email, password).status_code == 201
    assert client.token(email, password).status_code == 200


def test_a_wrong_password_at_login_costs_one_verification(
    client: ApiClient, hashes: Counter[str]
) -> None:
    client.token(unique_email(), "wrong password!")
    assert hashes == {"verify": 1}


def test_absurd_password_at_login_is_refused_without_hashing(
    client: ApiClient, hashes: Counter[str]
) -> None:
    response = client.token(unique_email(), ABSURD)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "1024 characters" in response.json()["error_description"]
    assert hashes == {}


def test_absurd_password_at_registration_is_refused_without_hashing(
    client: ApiClient, hashes: Counter[str]
) -> None:
    response = client.register(unique_email(), ABSURD)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "password"]
    assert hashes == {}


@pytest.mark.parametrize("field", ["current_password", "new_password"])
def test_absurd_password_at_password_change_is_refused_without_hashing(
    client: ApiClient, field: str, hashes: Counter[str]
) -> None:
    headers = client.headers()
    hashes.clear()  # registering and logging in hashed; the change must not
    body = {"current_password": PASSWORD, "new_password": "another long passphrase", field: ABSURD}
    response = client.http.post("/users/me/password", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", field]
    assert hashes == {}


def test_outdated_hash_is_upgraded_on_login(tmp_path: Path) -> None:
    email = unique_email()
    with TestClient(create_app(make_settings(tmp_path, PASSWORD_HASH_ROUNDS=4))) as http:
        ApiClient(http).register(email)
    settings = make_settings(tmp_path)

    def stored_hash() -> str:
        sql = "SELECT hashed_password FROM users WHERE email = :email"
        return str(execute_sql(settings, sql, email=email)[0][0])

    assert "r=4$" in stored_hash()
    with TestClient(create_app(make_settings(tmp_path, PASSWORD_HASH_ROUNDS=5))) as http:
        assert ApiClient(http).token(email).status_code == 200
    assert "r=5$" in stored_hash()


def test_legacy_plain_bcrypt_hash_still_logs_in_and_is_upgraded(tmp_path: Path) -> None:
    email = unique_email()
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings)) as http:
        client = ApiClient(http)
        client.register(email)
        legacy = bcrypt.using(rounds=4).hash("correct horse battery staple")
        execute_sql(
            settings,
            "UPDATE users SET hashed_password = :hash WHERE email = :email",
            hash=legacy,
            email=email,
        )
        assert client.token(email).status_code == 200
    sql = "SELECT hashed_password FROM users WHERE email = :email"
    assert execute_sql(settings, sql, email=email)[0][0].startswith("$bcrypt-sha256$")


def test_hasher_refuses_nothing_it_stored_itself() -> None:
    hasher = PasswordHasher(rounds=4)
    hashed = hasher.hash_sync("naïve password ☃")
    assert hasher._verify_sync("naïve password ☃", hashed) == (True, None)
    assert hasher._verify_sync("naive password", hashed)[0] is False
    assert hasher._verify_sync("anything", "not a hash") == (False, None)


def test_common_password_is_refused_with_a_reason(client: ApiClient) -> None:
    response = client.register(unique_email(), "Password123")
    assert response.status_code == 422
    assert "commonly used" in response.json()["errors"][0]["msg"]


def test_password_equal_to_the_email_is_refused(client: ApiClient) -> None:
    email = unique_email()
    response = client.register(email, email.upper())
    assert response.status_code == 422
    assert "e-mail" in response.json()["errors"][0]["msg"]


def test_the_bundled_list_has_at_least_ten_thousand_passwords() -> None:
    from models.password_policy import common_passwords

    assert len(common_passwords()) >= 10_000
    assert {"123456", "password", "qwerty"} <= common_passwords()


def test_new_password_must_not_be_common_or_the_email(client: ApiClient) -> None:
    email, token = client.new_user()
    for new in ("iloveyou", email):
        response = client.http.post(
            "/users/me/password",
            json={"current_password": PASSWORD, "new_password": new},
            headers=bearer(token["access_token"]),
        )
        assert response.status_code == 422, new
        assert response.json()["errors"][0]["msg"]
