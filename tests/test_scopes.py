from api.main import create_app
from tests.databases import make_settings
from tests.helpers import ApiClient, bearer


def test_openapi_declares_the_scopes_for_swagger(tmp_path: object) -> None:
    schema = create_app(make_settings(tmp_path)).openapi()  # type: ignore[arg-type]
    flows = schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]
    assert set(flows["password"]["scopes"]) == {"products:read", "products:write", "account"}
    assert flows["password"]["tokenUrl"] == "auth/token"


def test_token_gets_only_the_requested_scopes(client: ApiClient) -> None:
    _, token = client.new_user(scope="products:read")
    assert token["scope"] == "products:read"


def test_read_only_token_can_read(client: ApiClient) -> None:
    headers = bearer(client.new_user(scope="products:read")[1]["access_token"])
    assert client.http.get("/products", headers=headers).status_code == 200
    assert client.http.get("/users/me", headers=headers).status_code == 200


def test_read_only_token_cannot_write_and_gets_insufficient_scope(client: ApiClient) -> None:
    headers = bearer(client.new_user(scope="products:read")[1]["access_token"])
    response = client.http.post("/products", json={"name": "x", "price": 1}, headers=headers)
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="insufficient_scope"')
    assert 'scope="products:write"' in challenge
    assert response.json()["detail"]


def test_write_only_token_cannot_read(client: ApiClient) -> None:
    headers = bearer(client.new_user(scope="products:write")[1]["access_token"])
    assert client.http.get("/products", headers=headers).status_code == 403


def test_account_scope_guards_profile_changes(client: ApiClient) -> None:
    headers = bearer(client.new_user(scope="products:read products:write")[1]["access_token"])
    response = client.http.patch("/users/me", json={"full_name": "x"}, headers=headers)
    assert response.status_code == 403
    assert 'scope="account"' in response.headers["www-authenticate"]
