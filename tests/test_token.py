from api.state import state
from tests.helpers import PASSWORD, ApiClient, unique_email


def test_password_grant_issues_a_bearer_token(client: ApiClient) -> None:
    email = unique_email()
    client.register(email)
    response = client.token(email, grant_type="password")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    assert body["access_token"].count(".") == 2
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


def test_grant_type_may_be_left_out(client: ApiClient) -> None:
    email = unique_email()
    client.register(email)
    assert client.token(email).status_code == 200


def test_login_email_is_case_insensitive(client: ApiClient) -> None:
    email = unique_email()
    client.register(email)
    assert client.token(email.upper()).status_code == 200


def test_wrong_password_and_unknown_email_get_identical_invalid_grant(client: ApiClient) -> None:
    email = unique_email()
    client.register(email)
    wrong = client.token(email, "wrong password!")
    unknown = client.token(unique_email(), PASSWORD)
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"] == "invalid_grant"
    assert wrong.json()["error_description"]
    assert wrong.headers["cache-control"] == "no-store"


def test_unknown_email_costs_a_full_password_verification(client: ApiClient) -> None:
    hasher = state(client.http.app).auth.passwords
    calls: list[str] = []
    original = hasher._verify_sync

    def counting(password: str, hashed: str) -> tuple[bool, str | None]:
        calls.append(hashed)
        return original(password, hashed)

    hasher._verify_sync = counting  # type: ignore[method-assign]
    client.token(unique_email(), PASSWORD)
    assert calls == [hasher._dummy_hash]


def test_unsupported_grant_type(client: ApiClient) -> None:
    response = client.http.post("/auth/token", data={"grant_type": "client_credentials"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_missing_password_is_invalid_request(client: ApiClient) -> None:
    response = client.http.post("/auth/token", data={"username": "a@example.com"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_json_body_is_invalid_request(client: ApiClient) -> None:
    response = client.http.post(
        "/auth/token", json={"username": "a@example.com", "password": PASSWORD}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_swagger_style_request_with_empty_basic_client_auth_works(client: ApiClient) -> None:
    email = unique_email()
    client.register(email)
    response = client.http.post(
        "/auth/token",
        data={"grant_type": "password", "username": email, "password": PASSWORD},
        headers={"Authorization": "Basic Og=="},
    )
    assert response.status_code == 200


def test_unknown_scope_is_invalid_scope(client: ApiClient) -> None:
    email = unique_email()
    client.register(email)
    response = client.token(email, scope="products:read admin")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_form_that_is_not_utf8_gets_an_oauth_error(client: ApiClient) -> None:
    response = client.http.post(
        "/auth/token",
        content=b"username=\xff\xfe&password=\xff",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_request", "invalid_grant")
