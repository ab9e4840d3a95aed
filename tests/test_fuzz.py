"""Schemathesis against the app's live OpenAPI document, in-process through ASGI.

Every operation of `/openapi.json` is fuzzed, authenticated as a real user, with positive and
negative (schema-violating) data, and each response is held to the document: no 5xx, only
documented status codes, documented content types, bodies and headers that match their schemas.
Generation is deterministic (fixed seed, `derandomize`) and writes no example database.
"""

import itertools
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from api.main import create_app
from tests.conftest import make_settings
from tests.helpers import PASSWORD

# Per operation; the run sends at least MIN_TOTAL_CASES requests over all of them.
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
    allow_header_conformance,
    positive_data_acceptance,
]

_emails = (f"fuzz{n}@example.com" for n in itertools.count())
_user = {"email": next(_emails)}


def _register(client: asgi.ASGIClient, email: str) -> None:
    response = client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    token = _token(client, email)
    for n in range(3):  # a few products, so /products/{id} has something to find
        body = {"name": f"Seed {n}", "price": f"{n}.50"}
        created = client.post("/products", json=body, headers={"Authorization": f"Bearer {token}"})
        assert created.status_code == 201, created.text


def _token(client: asgi.ASGIClient, email: str) -> str | None:
    response = client.post("/auth/token", data={"username": email, "password": PASSWORD})
    if response.status_code != 200:
        return None
    token: str = response.json()["access_token"]
    return token


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Any:
    app = create_app(make_settings(tmp_path_factory.mktemp("fuzz")))
    config = schemathesis.Config.from_dict(
        {"seed": SEED, "generation": {"mode": "all", "deterministic": True, "database": "none"}}
    )
    loaded = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    with asgi.get_client(app) as client:
        _register(client, _user["email"])
    yield loaded
    asgi.shutdown_lifespans()


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.auth(refresh_interval=60, retry_on=[401])
class FuzzUserLogin:
    """Logs the fuzz user in; a 401 (a fuzzed logout or session end revoked the token) logs in
    again. If a fuzzed `PATCH /users/me` changed the user's e-mail, a new user is registered."""

    def get(self, case: schemathesis.Case, ctx: schemathesis.AuthContext) -> str:
        with asgi.get_client(ctx.app) as client:
            token = _token(client, _user["email"])
            if token is None:
                _user["email"] = next(_emails)
                _register(client, _user["email"])
                token = _token(client, _user["email"])
        assert token is not None
        return token

    def set(self, case: schemathesis.Case, data: str, ctx: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


class CaseCount:
    def __init__(self) -> None:
        self.by_operation: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return sum(self.by_operation.values())


@pytest.fixture(autouse=True)
def _nodeid_shim(request: pytest.FixtureRequest) -> None:
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@pytest.fixture
def case_count(request: pytest.FixtureRequest) -> Iterator[CaseCount]:
    count = CaseCount()
    yield count
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    summary = ", ".join(f"{label}: {n}" for label, n in sorted(count.by_operation.items()))
    line = (
        f"schemathesis: {count.total} cases over {len(count.by_operation)} operations ({summary})"
    )
    if reporter is not None:
        reporter.write_line("")
        reporter.write_line(line)
    assert count.total >= MIN_TOTAL_CASES, line


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_openapi_conformance(case: schemathesis.Case, case_count: CaseCount) -> None:
    case_count.by_operation[case.operation.label] += 1
    case.call_and_validate(checks=CHECKS)
