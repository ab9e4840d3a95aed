"""Schemathesis against the app's live OpenAPI document, in-process through ASGI.

`/openapi.json` is fetched from a freshly created app, and every operation in it is fuzzed,
authenticated as a real user, with positive and negative (schema-violating) data: the coverage
phase (boundary values, missing parameters, undeclared methods) and then Hypothesis fuzzing.
Each response must be free of 5xx, carry a documented status code and content type, and have a
body and headers matching their schemas. Generation is deterministic (fixed seed and
`derandomize`) and writes no example database.

Checks enabled, and why the other built-in ones are not:

- `not_a_server_error`, `status_code_conformance`, `content_type_conformance`,
  `response_schema_conformance`, `response_headers_conformance`: the contract itself.
- `negative_data_rejection`: a schema-violating request must get a 4xx, not a 2xx.
- `missing_required_header`, `ignored_auth`: requests without or with a forged bearer token
  must be refused (401/403) on every operation that declares security.
- `unsupported_method`: an undeclared method on a known path must be a 405.
- Left out: `positive_data_acceptance` (the schema cannot express the password policy, a wrong
  current password or a taken e-mail, so schema-valid requests are rightly refused with
  400/409/422), `allow_header_conformance` (Starlette's 405 lists only the methods of the first
  route matching the path), `use_after_free`, `ensure_resource_availability` and
  `object_level_authorization` (they need the stateful phase or a second identity), and
  `max_response_time` (timing on a shared CI machine).
"""

import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from api.main import create_app
from tests.databases import make_settings
from tests.helpers import PASSWORD, assert_no_echo, bearer

Case = schemathesis.Case[Any]

# Hypothesis examples per operation, on top of the coverage phase's cases. The whole run must
# send at least MIN_TOTAL_CASES (about 1,000 when nothing fails, in 30-45 s on 2 cores).
MAX_EXAMPLES = 60
MIN_TOTAL_CASES = 300
SEED = 20240601

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    missing_required_header,
    ignored_auth,
    unsupported_method,
]

# Operations that must have answered 2xx at least once, or the auth provider is not working.
AUTHENTICATED_SUCCESSES = ("GET /users/me", "GET /products", "POST /products", "PATCH /users/me")

# All fuzz traffic comes from one client address, and so do the fuzz user's own logins: the
# per-address throttles are raised so that a burst of fuzzed failed logins or registrations
# cannot lock the fuzz user out. The per-account limit keeps its default (and its 429s).
THROTTLE_OVERRIDES = {
    "LOGIN_FAILURE_LIMIT_PER_ADDRESS": "100000/minute",
    "REGISTRATION_LIMIT_PER_ADDRESS": "100000/minute",
    "REFRESH_LIMIT_PER_ADDRESS": "100000/minute",
}

_emails = (f"fuzz{n}@example.com" for n in itertools.count())
_fuzz_user = {"email": next(_emails)}


def _client(app: FastAPI | None) -> asgi.ASGIClient:
    # schemathesis types an ASGI app with `dict` where Starlette says `MutableMapping`.
    asgi_app: Any = app
    return asgi.get_client(asgi_app)


def _log_in(client: asgi.ASGIClient, email: str) -> str | None:
    response = client.post("/auth/token", data={"username": email, "password": PASSWORD})
    if response.status_code != 200:
        return None
    token: str = response.json()["access_token"]
    return token


def _register(client: asgi.ASGIClient, email: str) -> str:
    """A new user with a few products (so `/products/{id}` finds some); its access token."""
    response = client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    token = _log_in(client, email)
    assert token is not None
    for n in range(3):
        body = {"name": f"Seed {n}", "price": f"{n}.50"}
        created = client.post("/products", json=body, headers=bearer(token))
        assert created.status_code == 201, created.text
    return token


@pytest.fixture(scope="module")
def live_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    settings_ = make_settings(tmp_path_factory.mktemp("fuzz"), **THROTTLE_OVERRIDES)
    app = create_app(settings_)
    config = schemathesis.Config.from_dict(
        {"seed": SEED, "generation": {"mode": "all", "deterministic": True, "database": "none"}}
    )
    # Starts the app's lifespan (schemathesis keeps it running for every case) and fetches the
    # document the app serves.
    loaded = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    with _client(app) as client:
        _register(client, _fuzz_user["email"])
    yield loaded
    asgi.shutdown_lifespans()


schema = schemathesis.pytest.from_fixture("live_schema")


@schema.auth(refresh_interval=60, retry_on=[401])
class FuzzUserLogin:
    """Bearer token of the fuzz user, cached for a minute.

    A fuzzed `POST /auth/logout`, `DELETE /users/me/sessions/{id}` or password change can revoke
    it: the 401 that follows makes schemathesis log in again and replay the request. A fuzzed
    `PATCH /users/me` that changes the e-mail is followed by the test; should a login fail all the
    same, a new user is registered.
    """

    def get(self, case: Case, ctx: schemathesis.AuthContext) -> str:
        with _client(ctx.app) as client:
            token = _log_in(client, _fuzz_user["email"])
            if token is None:
                _fuzz_user["email"] = next(_emails)
                token = _register(client, _fuzz_user["email"])
        return token

    def set(self, case: Case, data: str, ctx: schemathesis.AuthContext) -> None:
        case.headers.update(bearer(data))


class CaseCount:
    """Cases sent and status classes received, per documented operation."""

    def __init__(self) -> None:
        self.by_operation: Counter[str] = Counter()
        self.statuses: dict[str, Counter[str]] = defaultdict(Counter)

    @property
    def total(self) -> int:
        return sum(self.by_operation.values())

    def summary(self) -> str:
        lines = [f"schemathesis: {self.total} cases over {len(self.by_operation)} operations"]
        for label, n in sorted(self.by_operation.items()):
            classes = " ".join(f"{c}:{k}" for c, k in sorted(self.statuses[label].items()))
            lines.append(f"  {label}: {n} cases ({classes})")
        return "\n".join(lines)


@pytest.fixture(autouse=True)
def _pytest_9_2_node_id(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32's `from_fixture` renames each subtest through `Node._nodeid`, which
    # pytest 9.2 no longer has; give it one (it then only affects schemathesis' own labels).
    node: Any = request.node
    if not hasattr(node, "_nodeid"):
        node._nodeid = node.nodeid


@pytest.fixture
def case_count(
    capsys: pytest.CaptureFixture[str], record_property: Callable[[str, object], None]
) -> Iterator[CaseCount]:
    count = CaseCount()
    yield count
    record_property("schemathesis_cases", count.total)  # in the JUnit XML report too
    with capsys.disabled():
        print(f"\n{count.summary()}")
    assert count.total >= MIN_TOTAL_CASES, count.summary()
    # The fuzz user's token worked: authenticated reads and writes succeeded.
    for label in AUTHENTICATED_SUCCESSES:
        if label in count.by_operation:
            assert count.statuses[label]["2xx"], count.summary()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    # Bodies with many constrained fields are slow to generate, and negative generation filters.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_live_openapi_conformance(case: Case, case_count: CaseCount) -> None:
    label = case.operation.label
    case_count.by_operation[label] += 1
    response = case.call_and_validate(checks=CHECKS)
    if response.status_code == 422:
        assert_no_echo(response.json())
    if label == "PATCH /users/me" and response.status_code == 200:
        # A fuzzed e-mail change: keep logging in as the same user, who owns the seeded products.
        _fuzz_user["email"] = response.json()["email"]
    case_count.statuses[label][f"{response.status_code // 100}xx"] += 1
