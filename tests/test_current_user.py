import base64
import json
import time
from typing import Any

import pytest
from jose import jwt

from api.config import Settings
from tests.databases import TEST_SECRET, execute_sql
from tests.helpers import ApiClient, bearer


def claims_of(token: str) -> dict[str, Any]:
    return jwt.get_unverified_claims(token)  # type: ignore[no-any-return]


def forge(claims: dict[str, Any], key: str = TEST_SECRET, **headers: Any) -> str:
    from auth.keys import secret_kid as key_id

    header = {"kid": key_id(TEST_SECRET), "typ": "at+jwt", **headers}
    return jwt.encode(claims, key, algorithm="HS256", headers=header)  # type: ignore[no-any-return]


def assert_invalid_token(response: Any) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert response.json()["detail"]


def test_me_returns_the_current_user(client: ApiClient) -> None:
    email, token = client.new_user()
    response = client.http.get("/users/me", headers=bearer(token["access_token"]))
    assert response.status_code == 200
    assert response.json()["email"] == email


def test_token_carries_subject_session_and_required_claims(client: ApiClient) -> None:
    _, token = client.new_user()
    claims = claims_of(token["access_token"])
    assert claims["sub"].isdigit()
    assert {"sid", "exp", "iat", "jti", "iss", "aud", "scope"} <= set(claims)
    header = jwt.get_unverified_header(token["access_token"])
    assert header["alg"] == "HS256" and header["kid"] and header["typ"] == "at+jwt"


def test_no_token_is_401_with_a_bare_bearer_challenge(client: ApiClient) -> None:
    response = client.http.get("/users/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"]


def test_alg_none_is_refused(client: ApiClient) -> None:
    _, token = client.new_user()
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
    payload = token["access_token"].split(".")[1]
    forged = f"{header.decode().rstrip('=')}.{payload}."
    assert_invalid_token(client.http.get("/users/me", headers=bearer(forged)))


def test_token_signed_with_another_key_is_refused(client: ApiClient) -> None:
    _, token = client.new_user()
    forged = forge(claims_of(token["access_token"]), key="another-key-" + "x" * 40)
    assert_invalid_token(client.http.get("/users/me", headers=bearer(forged)))


def test_tampered_token_is_refused(client: ApiClient) -> None:
    _, token = client.new_user()
    header, _payload, signature = token["access_token"].split(".")
    claims = claims_of(token["access_token"])
    claims["sub"] = str(int(claims["sub"]) + 1)
    other = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    tampered = f"{header}.{other}.{signature}"
    assert_invalid_token(client.http.get("/users/me", headers=bearer(tampered)))


def test_truncated_token_is_refused(client: ApiClient) -> None:
    _, token = client.new_user()
    assert_invalid_token(client.http.get("/users/me", headers=bearer(token["access_token"][:-10])))


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "sid", "jti", "aud", "iss"])
def test_token_missing_a_required_claim_is_refused(client: ApiClient, claim: str) -> None:
    _, token = client.new_user()
    claims = claims_of(token["access_token"])
    del claims[claim]
    assert_invalid_token(client.http.get("/users/me", headers=bearer(forge(claims))))


def test_expired_token_is_refused(client: ApiClient) -> None:
    _, token = client.new_user()
    claims = claims_of(token["access_token"])
    claims["iat"], claims["exp"] = int(time.time()) - 120, int(time.time()) - 60
    assert_invalid_token(client.http.get("/users/me", headers=bearer(forge(claims))))


def test_malformed_claim_types_are_refused_not_500(client: ApiClient) -> None:
    _, token = client.new_user()
    claims = claims_of(token["access_token"])
    claims["exp"] = [1, 2]
    assert_invalid_token(client.http.get("/users/me", headers=bearer(forge(claims))))


def test_token_without_explicit_type_is_refused(client: ApiClient) -> None:
    _, token = client.new_user()
    forged = forge(claims_of(token["access_token"]), typ="JWT")
    assert_invalid_token(client.http.get("/users/me", headers=bearer(forged)))


def test_oversized_token_is_refused(client: ApiClient) -> None:
    _, token = client.new_user()
    claims = claims_of(token["access_token"])
    claims["padding"] = "x" * 10_000
    assert_invalid_token(client.http.get("/users/me", headers=bearer(forge(claims))))


def test_token_for_a_user_that_no_longer_exists_is_refused(client: ApiClient) -> None:
    _, token = client.new_user()
    claims = claims_of(token["access_token"])
    claims["sub"] = "999999"
    assert_invalid_token(client.http.get("/users/me", headers=bearer(forge(claims))))


def test_token_of_an_inactive_user_is_refused(client: ApiClient, settings: Settings) -> None:
    email, token = client.new_user()
    execute_sql(settings, "UPDATE users SET is_active = false WHERE email = :email", email=email)
    assert_invalid_token(client.http.get("/users/me", headers=bearer(token["access_token"])))
    assert client.token(email).status_code == 400


def test_garbage_authorization_headers_are_401(client: ApiClient) -> None:
    for value in ["Bearer", "Bearer ", "Basic abc", "Bearer a.b.c"]:
        response = client.http.get("/users/me", headers={"Authorization": value})
        assert response.status_code == 401, value
