"""What is measured: baseline routes, Stockroom scenarios and their targets, the accounts."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from urllib.parse import urlencode

import httpx
from jose import jwt

from bench.load import BenchError, RequestSpec

PRODUCTS_PER_ACCOUNT = 50
LARGE_ACCOUNT_PRODUCTS = 10_000
# Every SEARCH_EVERY-th product's name holds SEARCH_WORD, which no other name or description
# does: a search that matches a known share of what the user owns.
SEARCH_WORD = "lamp"
SEARCH_EVERY = 10
# Creating products is independent work: a few at once keep the worker busy between requests.
CREATE_THREADS = 4
BASELINE_ROWS = 50  # the rows bench/baseline.py seeds (its ROWS); /ping-db reads them in turn
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
PRODUCT_BODY = '{"name": "bench product {n}", "price": "{n}.99", "description": "benchmark"}'
PATCH_BODY = '{"price": "{n}.50"}'

# Baseline routes (bench/baseline.py) and the machine's password-hash rate.
PING = "baseline GET /ping"
PING_AUTH = "baseline GET /ping-auth"
PING_DB = "baseline GET /ping-db"
HASH_RATE = "baseline password verify/s"

BASELINE_REQUESTS: dict[str, RequestSpec] = {
    PING: RequestSpec("GET", "/ping"),
    PING_AUTH: RequestSpec("GET", "/ping-auth"),
    PING_DB: RequestSpec("GET", "/ping-db?item_id={id}"),
}
BASELINE_ROUTES = (PING, PING_AUTH, PING_DB, HASH_RATE)


@dataclass(frozen=True, slots=True)
class Account:
    """A fresh user, logged in, who owns PRODUCTS_PER_ACCOUNT products (or, the large account,
    many more)."""

    email: str
    password: str
    token: str  # an access JWT from the password grant
    personal_token: str  # a personal access token (stk_pat_...) of the same user
    product_ids: tuple[int, ...]
    deep_cursor: str | None = None  # `next_cursor` of a page near the end of the product list


@dataclass(frozen=True, slots=True)
class Scenario:
    route: str
    # The request, or how to build it from the account when it carries the account's data.
    request: RequestSpec | Callable[[Account], RequestSpec]
    baseline: str  # the route (a baseline's, or another scenario's) `target` is a ratio of
    target: float
    login: bool = False  # few connections; the body carries the account's credentials
    personal_token: bool = False  # authenticated by the account's personal access token
    large_account: bool = False  # the run's account with LARGE_ACCOUNT_PRODUCTS, not a fresh one

    def token_for(self, account: Account) -> str | None:
        if self.login:
            return None
        return account.personal_token if self.personal_token else account.token

    def requests_for(self, account: Account) -> tuple[RequestSpec, ...]:
        if isinstance(self.request, RequestSpec):
            return (self.request,)
        return (self.request(account),)


def login_request(account: Account) -> RequestSpec:
    form = urlencode({"username": account.email, "password": account.password})
    return RequestSpec("POST", "/auth/token", FORM, form)


def deep_page_request(account: Account) -> RequestSpec:
    if account.deep_cursor is None:
        raise BenchError("the deep-page scenario needs an account with a deep cursor")
    return RequestSpec("GET", f"/products?limit=20&cursor={account.deep_cursor}")


LOGIN_ROUTE = "POST /auth/token"
READ_ONE = "GET /products/{id}"
SCENARIOS = (
    Scenario(READ_ONE, RequestSpec("GET", "/products/{id}"), PING_AUTH, 0.40),
    # The same route with a personal access token, against the same route with a JWT.
    Scenario(
        "GET /products/{id} (personal token)",
        RequestSpec("GET", "/products/{id}"),
        READ_ONE,
        0.90,
        personal_token=True,
    ),
    Scenario("GET /products?limit=20", RequestSpec("GET", "/products?limit=20"), PING_AUTH, 0.28),
    Scenario(
        "POST /products", RequestSpec("POST", "/products", JSON, PRODUCT_BODY), PING_AUTH, 0.20
    ),
    Scenario(
        "PATCH /products/{id}",
        RequestSpec("PATCH", "/products/{id}", JSON, PATCH_BODY),
        PING_AUTH,
        0.20,
    ),
    Scenario("GET /users/me", RequestSpec("GET", "/users/me"), PING_AUTH, 0.55),
    Scenario(LOGIN_ROUTE, login_request, HASH_RATE, 0.85, login=True),
    # A page must cost the same however many products the user owns: the first one, one deep
    # in the list by cursor, and a search with an order.
    Scenario(
        "GET /products?limit=20 (10,000 products)",
        RequestSpec("GET", "/products?limit=20"),
        PING_AUTH,
        0.30,
        large_account=True,
    ),
    Scenario(
        "GET /products deep cursor page (10,000 products)",
        deep_page_request,
        PING_AUTH,
        0.30,
        large_account=True,
    ),
    Scenario(
        "GET /products?q=...&sort=-price&limit=20 (10,000 products)",
        RequestSpec("GET", f"/products?q={SEARCH_WORD}&sort=-price&limit=20"),
        PING_AUTH,
        0.30,
        large_account=True,
    ),
    # A fresh account's products are never updated, so every one of them is still "v1".
    Scenario(
        "GET /products/{id} If-None-Match (304)",
        RequestSpec("GET", "/products/{id}", headers=(("If-None-Match", '"v1"'),), expect=304),
        PING_AUTH,
        0.40,
    ),
)

# The memory run's traffic: reads, a list, writes; every 10 requests in turn.
MEMORY_MIX = (
    *(RequestSpec("GET", "/products/{id}"),) * 4,
    *(RequestSpec("GET", "/products?limit=20"),) * 2,
    *(RequestSpec("GET", "/users/me"),) * 2,
    RequestSpec("POST", "/products", JSON, PRODUCT_BODY),
    RequestSpec("PATCH", "/products/{id}", JSON, PATCH_BODY),
)


def baseline_token(secret: str) -> str:
    claims = {"sub": "bench", "exp": int(time.time()) + 24 * 3600}
    token: str = jwt.encode(claims, secret, algorithm="HS256")
    return token


def _expect(response: httpx.Response, status: int) -> httpx.Response:
    if response.status_code != status:
        raise BenchError(
            f"set-up request {response.request.method} {response.request.url.path} answered "
            f"{response.status_code}, expected {status}: {response.text[:500]}"
        )
    return response


def log_in(client: httpx.Client, email: str, password: str) -> str:
    response = _expect(
        client.post("/auth/token", data={"username": email, "password": password}), 200
    )
    token: str = response.json()["access_token"]
    return token


def create_account(base_url: str, products: int = PRODUCTS_PER_ACCOUNT) -> Account:
    """Register a user through the API, log in, and create its products."""
    email = f"bench-{secrets.token_hex(8)}@example.com"
    password = secrets.token_urlsafe(24)
    with httpx.Client(base_url=base_url, timeout=120) as client:
        _expect(client.post("/auth/register", json={"email": email, "password": password}), 201)
        token = log_in(client, email, password)
        headers = {"Authorization": f"Bearer {token}"}
        personal = {"name": "bench", "scopes": ["products:read", "products:write"]}
        created = client.post(
            "/users/me/tokens", json={**personal, "expires_in_days": 1}, headers=headers
        )
        personal_token: str = _expect(created, 201).json()["token"]

        def create(n: int) -> int:
            response = client.post("/products", json=_product(n), headers=headers)
            return int(_expect(response, 201).json()["id"])

        with ThreadPoolExecutor(max_workers=CREATE_THREADS) as pool:
            ids = tuple(pool.map(create, range(products)))
    return Account(
        email=email,
        password=password,
        token=token,
        personal_token=personal_token,
        product_ids=ids,
    )


# What a cursor is made of (base64url and a dot): it goes into a URL and a wrk.lua field as is.
CURSOR_TEXT = re.compile(r"[A-Za-z0-9_.-]+")


def create_large_account(base_url: str, products: int) -> Account:
    """An account with `products` products, created through the API, and the cursor of a page
    nine tenths of the way into its list."""
    account = create_account(base_url, products)
    headers = {"Authorization": f"Bearer {account.token}"}
    with httpx.Client(base_url=base_url, timeout=120, headers=headers) as client:
        deep: dict[str, int | str] = {"limit": 1, "offset": products * 9 // 10}
        cursor = _expect(client.get("/products", params=deep), 200).json()["next_cursor"]
        if not isinstance(cursor, str) or not CURSOR_TEXT.fullmatch(cursor):
            raise BenchError(f"GET /products?offset=... gave no usable next_cursor: {cursor!r}")
        search: dict[str, int | str] = {"q": SEARCH_WORD, "count": "exact", "limit": 1}
        found = _expect(client.get("/products", params=search), 200).json()["total"]
        expected = len(range(0, products, SEARCH_EVERY))
        if found != expected:
            raise BenchError(f"q={SEARCH_WORD} matched {found} products, expected {expected}")
    return replace(account, deep_cursor=cursor)


def _product(n: int) -> dict[str, str]:
    kind = SEARCH_WORD if n % SEARCH_EVERY == 0 else "product"
    return {"name": f"{kind} {n}", "price": f"{n}.25", "description": "made by the benchmark"}
