import secrets
from pathlib import Path

from fastapi.testclient import TestClient
from jose import jwt

from api.main import create_app
from api.state import state
from auth.keys import secret_kid as key_id
from tests.databases import make_settings
from tests.helpers import ApiClient, bearer

OLD = secrets.token_urlsafe(48)
NEW = secrets.token_urlsafe(48)


def test_every_token_names_its_key(client: ApiClient) -> None:
    _, token = client.new_user()
    assert jwt.get_unverified_header(token["access_token"])["kid"]


def test_tokens_signed_with_the_previous_key_stay_valid_after_rotation(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path, SECRET_KEY=OLD))) as http:
        _, token = ApiClient(http).new_user()
    rotated = make_settings(tmp_path, SECRET_KEY=NEW, PREVIOUS_SECRET_KEYS=[OLD])
    with TestClient(create_app(rotated)) as http:
        client = ApiClient(http)
        assert http.get("/users/me", headers=bearer(token["access_token"])).status_code == 200
        fresh = client.refresh(token["refresh_token"]).json()
        assert jwt.get_unverified_header(fresh["access_token"])["kid"] == key_id(NEW)


def test_tokens_of_a_dropped_key_are_refused(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path, SECRET_KEY=OLD))) as http:
        _, token = ApiClient(http).new_user()
    with TestClient(create_app(make_settings(tmp_path, SECRET_KEY=NEW))) as http:
        response = http.get("/users/me", headers=bearer(token["access_token"]))
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_unknown_kid_is_refused(client: ApiClient) -> None:
    _, token = client.new_user()
    claims = jwt.get_unverified_claims(token["access_token"])
    secret = state(client.http.app).auth.links.key
    forged = jwt.encode(claims, secret, algorithm="HS256", headers={"kid": "nope", "typ": "at+jwt"})
    assert client.http.get("/users/me", headers=bearer(forged)).status_code == 401
