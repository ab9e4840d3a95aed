"""Body limits, security headers and CORS, as a browser or an attacker meets them."""

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.databases import make_settings
from tests.helpers import ApiClient, unique_email
from tests.services import UvicornServer

ORIGIN = "http://app.example.test:5173"
LIMIT = 1024 * 1024


def product_count(client: ApiClient, headers: dict[str, str]) -> int:
    return int(client.http.get("/products", headers=headers).json()["total"])


def test_declared_oversized_body_is_413_json_and_nothing_is_written(client: ApiClient) -> None:
    headers = client.headers()
    body = b'{"name": "x", "price": "1", "description": "' + b"d" * LIMIT + b'"}'
    response = client.http.post(
        "/products", content=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert product_count(client, headers) == 0


def test_chunked_body_growing_past_the_limit_is_413_json(client: ApiClient) -> None:
    headers = client.headers()

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "x", "price": "1", "description": "'
        for _ in range(20):
            yield b"d" * (64 * 1024)
        yield b'"}'

    response = client.http.post(
        "/products", content=chunks(), headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert product_count(client, headers) == 0


def test_chunked_oversized_body_is_413_on_a_real_server(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PASSWORD_HASH_ROUNDS": "4",
    }

    def chunks() -> Iterator[bytes]:
        yield b'{"email": "a@example.com", "password": "'
        for _ in range(40):
            yield b"p" * (32 * 1024)
        yield b'"}'

    with UvicornServer(env, cwd=tmp_path) as server, httpx.Client(base_url=server.base_url) as http:
        response = http.post(
            "/auth/register", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413
        assert response.json()["detail"]
        assert "server" not in response.headers


def test_every_response_says_nosniff_and_no_store(client: ApiClient) -> None:
    for response in (
        client.http.get("/users/me"),
        client.register(unique_email()),
        client.http.get("/openapi.json"),
        client.http.get("/no-such-route"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"


def test_docs_assets_may_be_cached(client: ApiClient) -> None:
    response = client.http.get("/docs/static/swagger/swagger-ui.css")
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "no-store" not in response.headers.get("cache-control", "")


@pytest.fixture
def cors_client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path, CORS_ORIGINS=[ORIGIN]))) as http:
        yield http


def preflight(http: TestClient, origin: str) -> httpx.Response:
    response: httpx.Response = http.options(
        "/auth/token",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-requested-with",
        },
    )
    return response


def test_cors_allows_the_configured_origin_with_credentials(cors_client: TestClient) -> None:
    response = preflight(cors_client, ORIGIN)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"


def test_cors_refuses_other_origins(cors_client: TestClient) -> None:
    response = preflight(cors_client, "https://evil.example")
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
    simple = cors_client.get("/users/me", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


def test_cors_never_answers_a_wildcard(cors_client: TestClient) -> None:
    response = cors_client.get("/openapi.json", headers={"Origin": ORIGIN})
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["vary"].lower().count("origin") == 1


def test_without_cors_origins_no_cors_headers_are_sent(client: ApiClient) -> None:
    response = client.http.get("/openapi.json", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in response.headers


def test_a_trailing_slash_is_not_redirected_to_the_host_the_request_named(
    client: ApiClient,
) -> None:
    response = client.http.get(
        "/users/me/", headers={"Host": "evil.example"}, follow_redirects=False
    )
    assert response.status_code == 404
    assert "location" not in response.headers
