"""Idempotent creates (IETF httpapi Idempotency-Key), through HTTP on the pass's database: a
retry gets the first answer and creates nothing, whoever sends it and however many at once."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from api.config import Settings
from api.idempotency import fingerprint
from api.pruner import prune
from models.connect import open_database
from models.product_schemas import ProductCreate
from tests.databases import execute_sql
from tests.helpers import ApiClient, assert_problem, bearer, new_server_user, race, run_async
from tests.services import UvicornServer

LAMP = {"name": "Desk lamp", "price": "24.90"}


def create(
    client: ApiClient, headers: dict[str, str], key: str, body: Any = None
) -> httpx.Response:
    response: httpx.Response = client.http.post(
        "/products",
        json=LAMP if body is None else body,
        headers={**headers, "Idempotency-Key": key},
    )
    return response


def total(client: ApiClient, headers: dict[str, str]) -> int:
    return int(client.http.get("/products", headers=headers).json()["total"])


def test_a_retry_with_the_same_key_gets_the_same_answer_and_creates_nothing(
    client: ApiClient,
) -> None:
    headers = client.headers()
    first = create(client, headers, "order-1")
    again = create(client, headers, "order-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["idempotent-replayed"] == "true"
    assert total(client, headers) == 1


def test_the_same_body_spelled_differently_is_the_same_request(client: ApiClient) -> None:
    headers = client.headers()
    first = create(client, headers, "k", {"name": "Desk lamp", "price": "24.90"})
    again = create(client, headers, "k", {"price": 24.9, "name": "Desk lamp"})
    assert again.json()["id"] == first.json()["id"]


def test_the_same_key_with_another_body_is_422(client: ApiClient) -> None:
    headers = client.headers()
    create(client, headers, "k")
    body = assert_problem(create(client, headers, "k", {"name": "Other", "price": "1"}), 422)
    assert body["type"] == "/problems/idempotency-key-reused"
    assert total(client, headers) == 1


def test_keys_are_per_user(client: ApiClient) -> None:
    mine, theirs = client.headers(), client.headers()
    first, second = create(client, mine, "shared-key"), create(client, theirs, "shared-key")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]


def test_without_a_key_every_post_creates(client: ApiClient) -> None:
    headers = client.headers()
    client.create_product(headers)
    client.create_product(headers)
    assert total(client, headers) == 2


@pytest.mark.parametrize("key", [b"", b"x" * 256, "caf\u00e9".encode(), b"tab\there"])
def test_a_malformed_key_is_422_naming_the_header(client: ApiClient, key: bytes) -> None:
    response = client.http.post(
        "/products", json=LAMP, headers={**client.headers(), "Idempotency-Key": key}
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["loc"] == ["header", "Idempotency-Key"]


def test_a_failed_create_leaves_the_key_free_for_the_retry(client: ApiClient) -> None:
    headers = client.headers()
    assert create(client, headers, "k", {"name": "", "price": "1"}).status_code == 422
    assert create(client, headers, "k").status_code == 201


def test_a_claim_whose_request_died_is_taken_over_once_stale(
    client: ApiClient, settings: Settings
) -> None:
    headers = client.headers()
    create(client, headers, "k")
    # As a process that died between claiming the key and creating would leave it.
    execute_sql(
        settings,
        "UPDATE idempotency_keys SET status_code = NULL, response_body = NULL, "
        "created_at = :long_ago",
        long_ago=datetime.now(UTC) - timedelta(minutes=5),
    )
    assert create(client, headers, "k").status_code == 201


def test_an_expired_key_creates_again(client: ApiClient, settings: Settings) -> None:
    headers = client.headers()
    create(client, headers, "k")
    execute_sql(
        settings,
        "UPDATE idempotency_keys SET expires_at = :past",
        past=datetime.now(UTC) - timedelta(seconds=1),
    )
    assert create(client, headers, "k").status_code == 201
    assert total(client, headers) == 2


def test_a_burst_of_retries_with_one_key_creates_one_product(live_server: UvicornServer) -> None:
    headers = {**bearer(new_server_user(live_server.base_url)), "Idempotency-Key": "burst"}
    statuses = race(
        live_server.base_url, 16, lambda http, _: http.post("/products", json=LAMP, headers=headers)
    )
    # Each got the product (201, the first answer) or was told the first was still running.
    assert set(statuses) <= {201, 409} and statuses[201] >= 1, statuses
    with httpx.Client(base_url=live_server.base_url) as http:
        listed = http.get("/products", headers=headers).json()
        again = http.post("/products", json=LAMP, headers=headers)
    assert listed["total"] == 1
    assert again.status_code == 201 and again.json()["id"] == listed["items"][0]["id"]


def test_a_retry_while_the_first_is_in_flight_is_409_with_retry_after(
    client: ApiClient, settings: Settings
) -> None:
    headers = client.headers()
    user_id = client.http.get("/users/me", headers=headers).json()["id"]
    now = datetime.now(UTC)
    # What the first request wrote when it claimed the key, before its create answered.
    execute_sql(
        settings,
        "INSERT INTO idempotency_keys (user_id, key, request_hash, created_at, expires_at) "
        "VALUES (:user, 'k', :hash, :now, :later)",
        user=user_id,
        hash=fingerprint(ProductCreate.model_validate(LAMP)),
        now=now,
        later=now + timedelta(hours=1),
    )
    response = create(client, headers, "k")
    body = assert_problem(response, 409)
    assert body["type"] == "/problems/idempotency-key-in-flight"
    assert response.headers["retry-after"] == "1"
    assert total(client, headers) == 0


def test_expired_keys_are_purged(client: ApiClient, settings: Settings) -> None:
    headers = client.headers()
    for key in ("a", "b", "c"):
        create(client, headers, key)
    execute_sql(
        settings,
        "UPDATE idempotency_keys SET expires_at = :past WHERE key <> 'c'",
        past=datetime.now(UTC) - timedelta(seconds=1),
    )
    database = open_database(settings.DATABASE_URL)

    async def purge() -> int:
        try:
            return await prune(database)
        finally:
            await database.close()

    assert run_async(purge()) == 2
    assert execute_sql(settings, "SELECT key FROM idempotency_keys") == [("c",)]
