from tests.helpers import PASSWORD, ApiClient, bearer


def test_patch_me_changes_profile_fields(client: ApiClient) -> None:
    headers = client.headers()
    response = client.http.patch("/users/me", json={"full_name": "Ada L."}, headers=headers)
    assert response.status_code == 200
    assert response.json()["full_name"] == "Ada L."
    assert client.http.get("/users/me", headers=headers).json()["full_name"] == "Ada L."


def test_patch_me_can_change_the_email(client: ApiClient) -> None:
    _, token = client.new_user()
    headers = bearer(token["access_token"])
    body = {"email": "New@Example.com", "current_password": PASSWORD}
    response = client.http.patch("/users/me", json=body, headers=headers)
    assert response.json()["email"] == "new@example.com"
    assert client.token("new@example.com").status_code == 200


def test_patch_me_to_a_taken_email_is_409(client: ApiClient) -> None:
    taken, _ = client.new_user()
    headers = client.headers()
    body = {"email": taken.upper(), "current_password": PASSWORD}
    response = client.http.patch("/users/me", json=body, headers=headers)
    assert response.status_code == 409


def test_privileged_fields_are_never_writable(client: ApiClient) -> None:
    headers = client.headers()
    for field, value in (("is_superuser", True), ("is_active", False), ("id", 1)):
        response = client.http.patch("/users/me", json={field: value}, headers=headers)
        assert response.status_code == 422, field
    me = client.http.get("/users/me", headers=headers).json()
    assert me["is_superuser"] is False and me["is_active"] is True


def test_null_email_is_422_not_500(client: ApiClient) -> None:
    response = client.http.patch("/users/me", json={"email": None}, headers=client.headers())
    assert response.status_code == 422


def test_body_that_is_not_utf8_is_a_documented_4xx(client: ApiClient) -> None:
    headers = {**client.headers(), "Content-Type": "application/json"}
    response = client.http.patch("/users/me", content=b"\xff", headers=headers)
    assert response.status_code in (400, 422)
    assert response.json()["detail"]
