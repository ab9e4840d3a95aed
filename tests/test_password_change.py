from tests.helpers import PASSWORD, ApiClient, bearer

NEW = "a brand new passphrase"


def change(client: ApiClient, access: str, current: str, new: str = NEW) -> int:
    body = {"current_password": current, "new_password": new}
    response = client.http.post("/users/me/password", json=body, headers=bearer(access))
    return int(response.status_code)


def test_wrong_current_password_is_refused_with_a_message(client: ApiClient) -> None:
    _, token = client.new_user()
    body = {"current_password": "not it at all", "new_password": NEW}
    response = client.http.post(
        "/users/me/password", json=body, headers=bearer(token["access_token"])
    )
    assert response.status_code == 400
    assert "wrong" in response.json()["detail"]


def test_new_password_works_and_old_one_stops_at_once(client: ApiClient) -> None:
    email, token = client.new_user()
    assert change(client, token["access_token"], PASSWORD) == 204
    assert client.token(email, PASSWORD).status_code == 400
    assert client.token(email, NEW).status_code == 200


def test_password_change_ends_other_sessions_but_not_this_one(client: ApiClient) -> None:
    email, mine = client.new_user()
    other = client.login(email)
    assert change(client, mine["access_token"], PASSWORD) == 204
    assert client.http.get("/users/me", headers=bearer(mine["access_token"])).status_code == 200
    assert client.http.get("/users/me", headers=bearer(other["access_token"])).status_code == 401
    assert client.refresh(other["refresh_token"]).json()["error"] == "invalid_grant"
    assert client.refresh(mine["refresh_token"]).status_code == 200


def test_new_password_is_validated(client: ApiClient) -> None:
    _, token = client.new_user()
    assert change(client, token["access_token"], PASSWORD, "short") == 422
