"""Personal access tokens: credentials for scripts, from creation to revocation."""

import re
import secrets
from pathlib import Path
from typing import Any

import httpx

from auth.personal_tokens import MAX_LIVE_TOKENS, new_token, well_formed
from tests.databases import execute_sql, fresh_database_url
from tests.helpers import (
    PASSWORD,
    ApiClient,
    assert_every_worker_answers_401,
    bearer,
    no_keep_alive,
    unique_email,
)
from tests.services import UvicornServer

TOKEN_SHAPE = re.compile(r"^stk_pat_[0-9A-Za-z]{49}$")


def make_token(
    client: ApiClient,
    headers: dict[str, str],
    scopes: list[str] | None = None,
    **fields: Any,
) -> httpx.Response:
    body = {
        "name": "deploy script",
        "scopes": ["products:read", "products:write"] if scopes is None else scopes,
        "expires_in_days": 30,
        **fields,
    }
    response: httpx.Response = client.http.post("/users/me/tokens", json=body, headers=headers)
    return response


def token_of(client: ApiClient, headers: dict[str, str], **fields: Any) -> str:
    response = make_token(client, headers, **fields)
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def test_a_token_is_shown_once_in_its_format_and_stored_only_as_a_hash(
    client: ApiClient, settings: Any
) -> None:
    headers = client.headers()
    created = make_token(client, headers)
    assert created.status_code == 201
    body = created.json()
    assert TOKEN_SHAPE.match(body["token"]) and well_formed(body["token"])
    assert set(body) == {"id", "name", "token", "scopes", "created_at", "expires_at"}
    listed = client.http.get("/users/me/tokens", headers=headers).json()
    assert [item["id"] for item in listed] == [body["id"]]
    assert "token" not in listed[0] and listed[0]["last_used_at"] is None
    stored = str(execute_sql(settings, "SELECT * FROM access_tokens"))
    assert body["token"] not in stored


def test_the_checksum_tells_a_mistyped_token_from_a_real_one() -> None:
    token = new_token()
    assert well_formed(token)
    typo = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert not well_formed(typo)
    assert not well_formed("stk_pat_" + "x" * 49)


def test_a_token_reads_and_writes_products_within_its_scopes(client: ApiClient) -> None:
    headers = client.headers()
    reader = bearer(token_of(client, headers, scopes=["products:read"]))
    writer = bearer(token_of(client, headers, scopes=["products:write", "products:read"]))
    created = client.http.post(
        "/products", json={"name": "by script", "price": "1"}, headers=writer
    )
    assert created.status_code == 201
    assert client.http.get(f"/products/{created.json()['id']}", headers=reader).status_code == 200
    refused = client.http.post("/products", json={"name": "no", "price": "1"}, headers=reader)
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]


def test_a_token_cannot_reach_the_account(client: ApiClient) -> None:
    headers = client.headers()
    pat = bearer(token_of(client, headers))
    change = {"current_password": PASSWORD, "new_password": "another long passphrase"}
    attempts = [
        client.http.post(
            "/users/me/tokens",
            json={"name": "x", "scopes": ["products:read"], "expires_in_days": 1},
            headers=pat,
        ),
        client.http.get("/users/me/tokens", headers=pat),
        client.http.get("/users/me/sessions", headers=pat),
        client.http.post("/users/me/password", json=change, headers=pat),
        client.http.patch("/users/me", json={"full_name": "x"}, headers=pat),
    ]
    assert [response.status_code for response in attempts] == [403] * 5


def test_a_token_cannot_be_refreshed_or_used_to_log_out(client: ApiClient) -> None:
    pat = token_of(client, client.headers())
    assert client.refresh(pat).json()["error"] == "invalid_grant"
    assert client.http.post("/auth/logout", headers=bearer(pat)).status_code == 401


def test_scopes_are_a_non_empty_subset_of_the_product_scopes(client: ApiClient) -> None:
    headers = client.headers()
    for scopes in ([], ["account"], ["products:read", "admin"]):
        assert make_token(client, headers, scopes=scopes).status_code == 422, scopes


def test_the_lifetime_is_between_1_and_365_days_and_required(client: ApiClient) -> None:
    headers = client.headers()
    for days in (0, 366):
        assert make_token(client, headers, expires_in_days=days).status_code == 422
    body = {"name": "x", "scopes": ["products:read"]}
    assert client.http.post("/users/me/tokens", json=body, headers=headers).status_code == 422


def test_revoked_expired_unknown_and_disabled_are_refused_with_a_challenge(
    client: ApiClient, settings: Any
) -> None:
    email, login = client.new_user()
    headers = bearer(login["access_token"])
    revoked, expired, disabled = (token_of(client, headers) for _ in range(3))
    listed = {item["id"] for item in client.http.get("/users/me/tokens", headers=headers).json()}
    first = min(listed)
    assert client.http.delete(f"/users/me/tokens/{first}", headers=headers).status_code == 204
    execute_sql(
        settings,
        "UPDATE access_tokens SET expires_at = created_at WHERE id = :id",
        id=sorted(listed)[1],
    )
    answers = [
        client.http.get("/products", headers=bearer(revoked)),
        client.http.get("/products", headers=bearer(expired)),
        client.http.get("/products", headers=bearer(new_token())),
    ]
    execute_sql(settings, "UPDATE users SET is_active = FALSE WHERE email = :email", email=email)
    answers.append(client.http.get("/products", headers=bearer(disabled)))
    for answer in answers:
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_someone_elses_token_id_is_404(client: ApiClient) -> None:
    mine = client.headers()
    token_of(client, mine)
    theirs = client.headers()
    token_id = client.http.get("/users/me/tokens", headers=mine).json()[0]["id"]
    assert client.http.delete(f"/users/me/tokens/{token_id}", headers=theirs).status_code == 404


def test_at_most_50_live_tokens(client: ApiClient) -> None:
    headers = client.headers()
    for _ in range(MAX_LIVE_TOKENS):
        token_of(client, headers)
    assert make_token(client, headers).status_code == 409


def test_last_use_is_kept_to_the_minute(client: ApiClient, settings: Any) -> None:
    headers = client.headers()
    pat = bearer(token_of(client, headers))
    client.http.get("/products", headers=pat)
    first = client.http.get("/users/me/tokens", headers=headers).json()[0]["last_used_at"]
    assert first is not None
    client.http.get("/products", headers=pat)  # within the minute: not written again
    again = client.http.get("/users/me/tokens", headers=headers).json()[0]["last_used_at"]
    assert again == first


def test_a_password_change_keeps_personal_tokens(client: ApiClient) -> None:
    _, login = client.new_user()
    headers = bearer(login["access_token"])
    pat = bearer(token_of(client, headers))
    change = {"current_password": PASSWORD, "new_password": "another long passphrase"}
    assert client.http.post("/users/me/password", json=change, headers=headers).status_code == 204
    assert client.http.get("/products", headers=pat).status_code == 200


def test_revocation_is_seen_by_every_worker_at_once(postgres_server: Any, tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": fresh_database_url(tmp_path),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PASSWORD_HASH_ROUNDS": "4",
    }
    with (
        UvicornServer(env, workers=2, cwd=tmp_path) as server,
        no_keep_alive(server.base_url) as http,
    ):
        email = unique_email()
        http.post("/auth/register", json={"email": email, "password": PASSWORD})
        login = http.post("/auth/token", data={"username": email, "password": PASSWORD}).json()
        headers = bearer(login["access_token"])
        body = {"name": "ci", "scopes": ["products:read"], "expires_in_days": 1}
        created = http.post("/users/me/tokens", json=body, headers=headers).json()
        pat = bearer(created["token"])
        assert http.get("/users/me", headers=pat).status_code == 200
        assert http.delete(f"/users/me/tokens/{created['id']}", headers=headers).status_code == 204
        assert_every_worker_answers_401(server, http, pat)
