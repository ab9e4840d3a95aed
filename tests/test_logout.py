from tests.helpers import ApiClient, bearer


def test_logout_ends_access_and_refresh_at_once(client: ApiClient) -> None:
    _, token = client.new_user()
    headers = bearer(token["access_token"])
    assert client.http.post("/auth/logout", headers=headers).status_code == 204
    response = client.http.get("/users/me", headers=headers)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert client.refresh(token["refresh_token"]).json()["error"] == "invalid_grant"


def test_logout_is_idempotent(client: ApiClient) -> None:
    _, token = client.new_user()
    headers = bearer(token["access_token"])
    assert client.http.post("/auth/logout", headers=headers).status_code == 204
    assert client.http.post("/auth/logout", headers=headers).status_code == 204


def test_logout_with_only_the_refresh_token(client: ApiClient) -> None:
    _, token = client.new_user()
    response = client.http.post("/auth/logout", json={"refresh_token": token["refresh_token"]})
    assert response.status_code == 204
    assert client.http.get("/users/me", headers=bearer(token["access_token"])).status_code == 401


def test_logout_ends_only_the_current_session(client: ApiClient) -> None:
    email, first = client.new_user()
    second = client.login(email)
    client.http.post("/auth/logout", headers=bearer(first["access_token"]))
    assert client.http.get("/users/me", headers=bearer(second["access_token"])).status_code == 200


def test_logout_without_credentials_is_401(client: ApiClient) -> None:
    response = client.http.post("/auth/logout")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_logout_with_a_forged_token_is_401(client: ApiClient) -> None:
    response = client.http.post("/auth/logout", headers=bearer("a.b.c"))
    assert response.status_code == 401
