"""Search, filters, order and cursors on `GET /products`, through HTTP on the pass's database."""

import base64
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from models.product_schemas import ProductPage
from tests.helpers import ApiClient, assert_problem, bearer, new_server_user
from tests.services import UvicornServer


def listing(client: ApiClient, headers: dict[str, str], **params: Any) -> httpx.Response:
    response: httpx.Response = client.http.get("/products", params=params, headers=headers)
    return response


def names(client: ApiClient, headers: dict[str, str], **params: Any) -> list[str]:
    response = listing(client, headers, **params)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


def all_pages(
    http: httpx.Client, headers: dict[str, str], **params: Any
) -> Iterator[list[dict[str, Any]]]:
    """Every page of a list, following next_cursor."""
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        body = http.get("/products", params=query, headers=headers).json()
        yield body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return


@pytest.fixture
def stocked(client: ApiClient) -> dict[str, str]:
    headers = client.headers()
    for name, price, description in [
        ("Desk lamp", "24.90", "Warm light"),
        ("Floor LAMP", "89.00", None),
        ("Chair", "45.00", "Oak, with a lamp hook"),
        ("100% wool rug", "120.00", None),
        ("rug_small", "30.00", "cotton"),
        ("It's a mug", "9.50", 'says "hi"'),
    ]:
        client.create_product(headers, name=name, price=price, description=description)
    return headers


def test_q_matches_name_or_description_in_any_case(
    client: ApiClient, stocked: dict[str, str]
) -> None:
    assert sorted(names(client, stocked, q="LaMp")) == ["Chair", "Desk lamp", "Floor LAMP"]


def test_q_takes_percent_and_underscore_literally(
    client: ApiClient, stocked: dict[str, str]
) -> None:
    assert names(client, stocked, q="%") == ["100% wool rug"]
    assert names(client, stocked, q="_") == ["rug_small"]
    assert names(client, stocked, q="rug_") == ["rug_small"]


def test_q_takes_quotes_literally(client: ApiClient, stocked: dict[str, str]) -> None:
    assert names(client, stocked, q="it's") == ["It's a mug"]
    assert names(client, stocked, q='"hi"') == ["It's a mug"]
    assert names(client, stocked, q="\\") == []


def test_a_page_is_the_bytes_its_model_writes(client: ApiClient, stocked: dict[str, str]) -> None:
    """The page is serialized from its rows directly (ProductPage.json_of): it must stay what
    the model the OpenAPI document declares would write, unicode, nulls and prices included."""
    client.create_product(stocked, name='Café ☕ "x" </script>', price="0.05")
    response = listing(client, stocked, limit=4)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    page = ProductPage.model_validate_json(response.content)
    assert response.content == page.model_dump_json().encode()
    assert page.next_cursor is not None and page.total == 7


def test_prices_filter_inclusively(client: ApiClient, stocked: dict[str, str]) -> None:
    assert sorted(names(client, stocked, min_price="30", max_price="89.00")) == [
        "Chair",
        "Floor LAMP",
        "rug_small",
    ]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("price", ["It's a mug", "Desk lamp", "rug_small", "Chair", "Floor LAMP", "100% wool rug"]),
        (
            "-price",
            ["100% wool rug", "Floor LAMP", "Chair", "rug_small", "Desk lamp", "It's a mug"],
        ),
        ("id", ["Desk lamp", "Floor LAMP", "Chair", "100% wool rug", "rug_small", "It's a mug"]),
        ("-id", ["It's a mug", "rug_small", "100% wool rug", "Chair", "Floor LAMP", "Desk lamp"]),
    ],
)
def test_sort_orders_the_list(
    client: ApiClient, stocked: dict[str, str], sort: str, expected: list[str]
) -> None:
    assert names(client, stocked, sort=sort) == expected


@pytest.mark.parametrize(
    ("param", "value"),
    [("sort", "colour"), ("sort", "--price"), ("min_price", "cheap"), ("limit", "0"), ("q", "")],
)
def test_an_unknown_or_malformed_parameter_is_422_naming_it(
    client: ApiClient, param: str, value: str
) -> None:
    body = assert_problem(listing(client, client.headers(), **{param: value}), 422)
    assert ["query", param] in [error["loc"] for error in body["errors"]]


def test_cursor_pages_cover_the_list_once_in_order(
    client: ApiClient, stocked: dict[str, str]
) -> None:
    pages = list(all_pages(client.http, stocked, sort="-price", limit=4))
    assert [len(page) for page in pages] == [4, 2]
    flat = [item["name"] for page in pages for item in page]
    assert flat == names(client, stocked, sort="-price", limit=100)


def test_a_page_links_to_the_next_one(client: ApiClient, stocked: dict[str, str]) -> None:
    first = listing(client, stocked, limit=4, q="a")
    link = first.headers["link"]
    assert link.startswith("</products?") and link.endswith('>; rel="next"')
    following = client.http.get(link[1 : link.index(">")], headers=stocked).json()
    assert following["items"] and following["next_cursor"] is None


def test_the_last_page_has_no_cursor_and_no_link(
    client: ApiClient, stocked: dict[str, str]
) -> None:
    response = listing(client, stocked, limit=100)
    assert response.json()["next_cursor"] is None
    assert "link" not in response.headers


def test_total_counts_every_product_without_filters(
    client: ApiClient, stocked: dict[str, str]
) -> None:
    assert listing(client, stocked, limit=1).json()["total"] == 6


def test_a_filtered_total_is_counted_only_when_asked(
    client: ApiClient, stocked: dict[str, str]
) -> None:
    assert listing(client, stocked, q="lamp").json()["total"] is None
    assert listing(client, stocked, q="lamp", count="exact").json()["total"] == 3


def test_total_follows_creates_and_deletes(client: ApiClient) -> None:
    headers = client.headers()
    made = [client.create_product(headers) for _ in range(3)]
    client.http.delete(f"/products/{made[0]['id']}", headers=headers)
    assert listing(client, headers).json()["total"] == 2


def test_offset_still_pages(client: ApiClient, stocked: dict[str, str]) -> None:
    assert names(client, stocked, offset=4) == ["rug_small", "It's a mug"]


def first_cursor(client: ApiClient, headers: dict[str, str], **params: Any) -> str:
    cursor: str = listing(client, headers, limit=1, **params).json()["next_cursor"]
    return cursor


def test_an_altered_cursor_is_422(client: ApiClient, stocked: dict[str, str]) -> None:
    cursor = first_cursor(client, stocked)
    payload, mac = cursor.split(".")
    fields = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    fields[0] += 1  # another owner's, under the same signature
    data = json.dumps(fields, separators=(",", ":")).encode()
    forged = base64.urlsafe_b64encode(data).rstrip(b"=").decode() + "." + mac
    for bad in (forged, cursor[:-2], "not-a-cursor", cursor + "x"):
        body = assert_problem(listing(client, stocked, cursor=bad), 422)
        assert body["errors"][0]["loc"] == ["query", "cursor"]


def test_another_users_cursor_is_422_and_shows_nothing_of_theirs(
    client: ApiClient, stocked: dict[str, str]
) -> None:
    cursor = first_cursor(client, stocked)
    assert_problem(listing(client, client.headers(), cursor=cursor), 422)


@pytest.mark.parametrize("change", [{"sort": "-id"}, {"q": "a"}, {"min_price": "1"}])
def test_a_cursor_replayed_with_another_order_or_filter_is_422(
    client: ApiClient, stocked: dict[str, str], change: dict[str, str]
) -> None:
    cursor = first_cursor(client, stocked)
    assert_problem(listing(client, stocked, cursor=cursor, **change), 422)


@pytest.mark.parametrize("sort", ["id", "-price", "name"])
def test_paging_while_others_insert_and_delete_never_repeats_or_skips(
    live_server: UvicornServer, sort: str
) -> None:
    headers = bearer(new_server_user(live_server.base_url))
    with httpx.Client(base_url=live_server.base_url, headers=headers, timeout=30) as http:
        kept = [
            http.post("/products", json={"name": f"kept {i:03}", "price": f"{i}.00"}).json()["id"]
            for i in range(60)
        ]
        doomed = [
            http.post("/products", json={"name": f"doomed {i:03}", "price": f"{i}.50"}).json()["id"]
            for i in range(30)
        ]
        stop = threading.Event()

        def churn() -> None:
            with httpx.Client(base_url=live_server.base_url, headers=headers, timeout=30) as other:
                i = 0
                while not stop.is_set():
                    other.post("/products", json={"name": f"new {i:03}", "price": f"{i % 90}.25"})
                    if doomed:
                        other.delete(f"/products/{doomed.pop()}")
                    i += 1

        writer = threading.Thread(target=churn)
        writer.start()
        try:
            seen = [
                item["id"] for page in all_pages(http, headers, sort=sort, limit=7) for item in page
            ]
        finally:
            stop.set()
            writer.join()
    assert len(seen) == len(set(seen)), "a product was listed twice"
    assert set(kept) <= set(seen), "a product that existed throughout was skipped"
