"""What is measured: baseline routes, Stockroom scenarios and their targets, the accounts."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
from jose import jwt

from bench.load import BenchError, RequestSpec

PRODUCTS_PER_ACCOUNT = 50
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
    """A fresh user, logged in, who owns PRODUCTS_PER_ACCOUNT products."""

    email: str
    password: str
    token: str  # an access JWT from the password grant
    personal_token: str  # a personal access token (stk_pat_...) of the same user
    product_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Scenario:
    route: str
    request: RequestSpec
    baseline: str  # the route (a baseline's, or another scenario's) `target` is a ratio of
    target: float
    login: bool = False  # few connections; the body carries the account's credentials
    personal_token: bool = False  # authenticated by the account's personal access token

    def token_for(self, account: Account) -> str | None:
        if self.login:
            return None
        return account.personal_token if self.personal_token else account.token

    def requests_for(self, account: Account) -> tuple[RequestSpec, ...]:
        if not self.login:
            return (self.request,)
        form = urlencode({"username": account.email, "password": account.password})
        return (RequestSpec("POST", "/auth/token", FORM, form),)


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
    Scenario(LOGIN_ROUTE, RequestSpec("POST", "/auth/token"), HASH_RATE, 0.85, login=True),
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
        ids = tuple(
            int(
                _expect(client.post("/products", json=_product(n), headers=headers), 201).json()[
                    "id"
                ]
            )
            for n in range(products)
        )
    return Account(
        email=email,
        password=password,
        token=token,
        personal_token=personal_token,
        product_ids=ids,
    )


def _product(n: int) -> dict[str, str]:
    return {"name": f"product {n}", "price": f"{n}.25", "description": "made by the benchmark"}
