"""Conditional requests on products (RFC 9110 §13): ETags from versions, 304 on an unchanged
read, 412 on a write from a stale read, 428 when If-Match is required, and the race of two
writers from one read won by exactly one of them, through HTTP on the pass's database."""

from collections import Counter
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from api.main import create_app
from tests.databases import make_settings
from tests.helpers import ApiClient, assert_problem, bearer, new_server_user, race
from tests.services import UvicornServer


def test_a_product_read_carries_its_etag(client: ApiClient) -> None:
    headers = client.headers()
    created = client.create_product(headers)
    response = client.http.get(f"/products/{created['id']}", headers=headers)
    assert response.headers["etag"] == created["etag"] == '"v1"'


def test_every_update_changes_the_etag(client: ApiClient) -> None:
    headers = client.headers()
    product = client.create_product(headers)
    seen = {product["etag"]}
    for price in ("1.00", "2.00", "3.00"):
        response = client.http.patch(
            f"/products/{product['id']}", json={"price": price}, headers=headers
        )
        assert response.headers["etag"] == response.json()["etag"]
        seen.add(response.headers["etag"])
    assert len(seen) == 4


def test_list_items_carry_the_etag_of_their_product(client: ApiClient) -> None:
    headers = client.headers()
    product = client.create_product(headers)
    listed = client.http.get("/products", headers=headers).json()["items"]
    assert [item["etag"] for item in listed] == [product["etag"]]


def test_if_none_match_with_the_current_etag_is_304_without_a_body(client: ApiClient) -> None:
    headers = client.headers()
    product = client.create_product(headers)
    response = client.http.get(
        f"/products/{product['id']}", headers={**headers, "If-None-Match": product["etag"]}
    )
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == product["etag"]


def test_if_none_match_with_an_old_etag_gets_the_product(client: ApiClient) -> None:
    headers = client.headers()
    product = client.create_product(headers)
    client.http.patch(f"/products/{product['id']}", json={"name": "New"}, headers=headers)
    response = client.http.get(
        f"/products/{product['id']}", headers={**headers, "If-None-Match": product["etag"]}
    )
    assert response.status_code == 200
    assert response.json()["name"] == "New"


def test_if_none_match_compares_weakly_and_takes_a_list(client: ApiClient) -> None:
    headers = client.headers()
    product = client.create_product(headers)
    tags = f'"v999", W/{product["etag"]}'
    response = client.http.get(
        f"/products/{product['id']}", headers={**headers, "If-None-Match": tags}
    )
    assert response.status_code == 304


def test_a_write_with_a_stale_if_match_is_412_with_the_current_etag(client: ApiClient) -> None:
    headers = client.headers()
    product = client.create_product(headers)
    moved = client.http.patch(f"/products/{product['id']}", json={"name": "A"}, headers=headers)
    stale = client.http.patch(
        f"/products/{product['id']}",
        json={"name": "B"},
        headers={**headers, "If-Match": product["etag"]},
    )
    body = assert_problem(stale, 412)
    assert body["type"] == "/problems/precondition-failed"
    assert stale.headers["etag"] == moved.headers["etag"]
    current = client.http.get(f"/products/{product['id']}", headers=headers).json()
    assert current["name"] == "A"


def test_a_write_with_the_current_if_match_succeeds(client: ApiClient) -> None:
    headers = client.headers()
    product = client.create_product(headers)
    response = client.http.patch(
        f"/products/{product['id']}",
        json={"name": "B"},
        headers={**headers, "If-Match": product["etag"]},
    )
    assert response.status_code == 200


def test_if_match_star_matches_any_existing_product(client: ApiClient) -> None:
    headers = client.headers()
    product = client.create_product(headers)
    star = {**headers, "If-Match": "*"}
    assert client.http.patch(
        f"/products/{product['id']}", json={"name": "B"}, headers=star
    ).is_success
    assert_problem(client.http.patch("/products/999999", json={"name": "B"}, headers=star), 404)


def test_a_weak_if_match_never_matches(client: ApiClient) -> None:
    headers = client.headers()
    product = client.create_product(headers)
    weak = {**headers, "If-Match": f"W/{product['etag']}"}
    assert_problem(client.http.delete(f"/products/{product['id']}", headers=weak), 412)


def test_a_delete_with_a_stale_if_match_is_412_and_deletes_nothing(client: ApiClient) -> None:
    headers = client.headers()
    product = client.create_product(headers)
    client.http.patch(f"/products/{product['id']}", json={"name": "A"}, headers=headers)
    stale = {**headers, "If-Match": product["etag"]}
    assert_problem(client.http.delete(f"/products/{product['id']}", headers=stale), 412)
    assert client.http.get(f"/products/{product['id']}", headers=headers).status_code == 200


def test_if_match_on_another_users_product_is_404(client: ApiClient) -> None:
    product = client.create_product(client.headers())
    stranger = {**client.headers(), "If-Match": product["etag"]}
    assert_problem(client.http.delete(f"/products/{product['id']}", headers=stranger), 404)


def test_writes_without_if_match_are_428_when_it_is_required(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, REQUIRE_IF_MATCH=True)
    with TestClient(create_app(settings)) as http:
        client = ApiClient(http)
        headers = client.headers()
        product = client.create_product(headers)
        url = f"/products/{product['id']}"
        body = assert_problem(client.http.patch(url, json={"name": "B"}, headers=headers), 428)
        assert body["type"] == "/problems/precondition-required"
        assert_problem(client.http.delete(url, headers=headers), 428)
        matched = {**headers, "If-Match": product["etag"]}
        assert client.http.patch(url, json={"name": "B"}, headers=matched).status_code == 200


def test_concurrent_writes_from_one_read_are_won_by_exactly_one(live_server: UvicornServer) -> None:
    token = new_server_user(live_server.base_url)
    headers = bearer(token)
    with httpx.Client(base_url=live_server.base_url) as http:
        product = http.post("/products", json={"name": "x", "price": "1"}, headers=headers).json()
    condition = {**headers, "If-Match": product["etag"]}
    statuses = race(
        live_server.base_url,
        8,
        lambda http, i: http.patch(
            f"/products/{product['id']}", json={"name": f"writer {i}"}, headers=condition
        ),
    )
    assert statuses == Counter({200: 1, 412: 7})
    with httpx.Client(base_url=live_server.base_url) as http:
        final = http.get(f"/products/{product['id']}", headers=headers).json()
    assert final["etag"] == '"v2"'


def test_concurrent_deletes_from_one_read_are_won_by_exactly_one(
    live_server: UvicornServer,
) -> None:
    headers = bearer(new_server_user(live_server.base_url))
    with httpx.Client(base_url=live_server.base_url) as http:
        product = http.post("/products", json={"name": "x", "price": "1"}, headers=headers).json()
    condition = {**headers, "If-Match": product["etag"]}
    statuses = race(
        live_server.base_url,
        8,
        lambda http, i: http.delete(f"/products/{product['id']}", headers=condition),
    )
    assert statuses[204] == 1 and statuses[204] + statuses[404] == 8
