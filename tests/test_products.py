from typing import Any

import pytest

from tests.helpers import ApiClient


@pytest.fixture
def headers(client: ApiClient) -> dict[str, str]:
    return client.headers()


def test_create_returns_201_with_location(client: ApiClient, headers: dict[str, str]) -> None:
    response = client.http.post(
        "/products", json={"name": "Lamp", "price": "12.50", "description": "Warm"}, headers=headers
    )
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/products/{body['id']}"
    assert body["name"] == "Lamp" and body["price"] == "12.50" and body["description"] == "Warm"


def test_created_product_can_be_read_back(client: ApiClient, headers: dict[str, str]) -> None:
    product = client.create_product(headers, price=3)
    response = client.http.get(f"/products/{product['id']}", headers=headers)
    assert response.status_code == 200
    assert response.json() == product
    assert product["price"] == "3.00"


@pytest.mark.parametrize("field", ["owner_id", "id"])
def test_owner_and_id_cannot_be_set_from_the_body(
    client: ApiClient, headers: dict[str, str], field: str
) -> None:
    response = client.http.post(
        "/products", json={"name": "x", "price": "1", field: 1}, headers=headers
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    "name",
    [
        'O\'Brien "quoted"',
        "'; DROP TABLE products; --",
        "<script>alert(1)</script>",
        "日本語 ☃ 🎉 עברית",
        "  spaced  ",
        "a" * 200,
    ],
)
def test_names_round_trip_exactly(client: ApiClient, headers: dict[str, str], name: str) -> None:
    product = client.create_product(headers, name=name)
    assert client.http.get(f"/products/{product['id']}", headers=headers).json()["name"] == name


@pytest.mark.parametrize(
    "fields",
    [
        {"price": "abc"},
        {"price": "NaN"},
        {"price": "Infinity"},
        {"price": "1e400"},
        {"price": "1.001"},
        {"price": "-1"},
        {"price": "12345678901"},
        {"price": None},
        {"price": True},
        {"name": ""},
        {"name": "   "},
        {"name": "a" * 201},
        {"name": "nul\x00byte"},
        {"name": 5},
        {"description": "d" * 2001},
        {"description": "nul\x00"},
    ],
)
def test_invalid_product_is_422(
    client: ApiClient, headers: dict[str, str], fields: dict[str, Any]
) -> None:
    body = {"name": "Widget", "price": "1.00", **fields}
    response = client.http.post("/products", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["msg"]


def test_huge_json_number_is_422(client: ApiClient, headers: dict[str, str]) -> None:
    response = client.http.post(
        "/products",
        content=b'{"name": "x", "price": 1e400}',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422


def test_missing_name_or_price_is_422(client: ApiClient, headers: dict[str, str]) -> None:
    assert client.http.post("/products", json={"name": "x"}, headers=headers).status_code == 422
    assert client.http.post("/products", json={"price": "1"}, headers=headers).status_code == 422


def test_largest_price_is_kept_exactly(client: ApiClient, headers: dict[str, str]) -> None:
    assert client.create_product(headers, price="99999999.99")["price"] == "99999999.99"


def test_patch_changes_only_the_given_fields(client: ApiClient, headers: dict[str, str]) -> None:
    product = client.create_product(headers, name="Old", price="1.00", description="keep")
    response = client.http.patch(
        f"/products/{product['id']}", json={"name": "New"}, headers=headers
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["price"], body["description"]) == ("New", "1.00", "keep")


def test_patch_can_clear_the_description(client: ApiClient, headers: dict[str, str]) -> None:
    product = client.create_product(headers, description="x")
    response = client.http.patch(
        f"/products/{product['id']}", json={"description": None}, headers=headers
    )
    assert response.json()["description"] is None


@pytest.mark.parametrize("body", [{"name": None}, {"price": None}, {"price": "-3"}, {"id": 7}])
def test_invalid_patch_is_422_and_changes_nothing(
    client: ApiClient, headers: dict[str, str], body: dict[str, Any]
) -> None:
    product = client.create_product(headers)
    response = client.http.patch(f"/products/{product['id']}", json=body, headers=headers)
    assert response.status_code == 422
    assert client.http.get(f"/products/{product['id']}", headers=headers).json() == product


def test_delete_is_204_then_404(client: ApiClient, headers: dict[str, str]) -> None:
    product = client.create_product(headers)
    assert client.http.delete(f"/products/{product['id']}", headers=headers).status_code == 204
    assert client.http.get(f"/products/{product['id']}", headers=headers).status_code == 404
    assert client.http.delete(f"/products/{product['id']}", headers=headers).status_code == 404


def test_other_users_products_are_404_for_every_method(
    client: ApiClient, headers: dict[str, str]
) -> None:
    product = client.create_product(headers)
    intruder = client.headers()
    url = f"/products/{product['id']}"
    assert client.http.get(url, headers=intruder).status_code == 404
    assert client.http.patch(url, json={"name": "mine"}, headers=intruder).status_code == 404
    assert client.http.delete(url, headers=intruder).status_code == 404
    missing = client.http.get("/products/999999", headers=intruder)
    assert client.http.get(url, headers=intruder).json() == missing.json()
    assert client.http.get(url, headers=headers).json() == product


def test_list_shows_only_own_products(client: ApiClient, headers: dict[str, str]) -> None:
    mine = client.create_product(headers)
    client.create_product(client.headers())
    page = client.http.get("/products", headers=headers).json()
    assert [item["id"] for item in page["items"]] == [mine["id"]]
    assert page["total"] == 1


def test_pages_never_overlap_or_skip(client: ApiClient, headers: dict[str, str]) -> None:
    created = [client.create_product(headers, name=f"p{i}")["id"] for i in range(7)]
    seen: list[int] = []
    for offset in range(0, 9, 3):
        page = client.http.get(f"/products?limit=3&offset={offset}", headers=headers).json()
        assert (page["total"], page["limit"], page["offset"]) == (7, 3, offset)
        seen += [item["id"] for item in page["items"]]
    assert seen == created


def test_list_defaults_to_20(client: ApiClient, headers: dict[str, str]) -> None:
    page = client.http.get("/products", headers=headers).json()
    assert (page["limit"], page["offset"], page["items"]) == (20, 0, [])


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "limit=abc", "offset=-1", "offset=99999999999999999999"]
)
def test_out_of_range_paging_is_422(client: ApiClient, headers: dict[str, str], query: str) -> None:
    assert client.http.get(f"/products?{query}", headers=headers).status_code == 422


@pytest.mark.parametrize("product_id", ["abc", "0", "-1", "99999999999999999999999", "1.5"])
def test_bad_product_ids_are_404_or_422(
    client: ApiClient, headers: dict[str, str], product_id: str
) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        response = client.http.request(
            method,
            f"/products/{product_id}",
            headers=headers,
            json={"name": "x"} if method == "PATCH" else None,
        )
        assert response.status_code in (404, 422), (method, response.status_code)


def test_products_need_a_token(client: ApiClient) -> None:
    assert client.http.get("/products").status_code == 401
    assert client.http.post("/products", json={"name": "x", "price": 1}).status_code == 401
