"""One error contract: RFC 9457 problem details everywhere but the token endpoint (RFC 6749
§5.2), chosen by the route and the exception's type, and declared as such in OpenAPI."""

from typing import Any

from api.problems import PROBLEM_TYPES
from tests.helpers import PASSWORD, ApiClient, assert_problem, unique_email


def test_a_missing_product_is_a_blank_problem(client: ApiClient) -> None:
    body = assert_problem(client.http.get("/products/123", headers=client.headers()), 404)
    assert body["type"] == "about:blank" and body["title"] == "Not Found"


def test_a_missing_token_is_a_problem_with_its_bearer_challenge(client: ApiClient) -> None:
    response = client.http.get("/users/me")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_token_without_the_scope_is_a_403_problem_with_its_challenge(
    client: ApiClient,
) -> None:
    headers = client.headers(scope="products:read")
    response = client.http.post("/products", json={"name": "x", "price": "1"}, headers=headers)
    assert_problem(response, 403)
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


def test_an_invalid_body_is_a_validation_problem_naming_each_field(client: ApiClient) -> None:
    response = client.http.post(
        "/products", json={"price": "-1", "secret": "x"}, headers=client.headers()
    )
    body = assert_problem(response, 422)
    assert body["type"] == "/problems/validation"
    locations = {tuple(error["loc"]) for error in body["errors"]}
    assert {("body", "name"), ("body", "price"), ("body", "secret")} <= locations
    assert "secret" not in str([error["msg"] for error in body["errors"]]).replace("'secret'", "")


def test_a_taken_address_is_a_typed_problem(client: ApiClient) -> None:
    email = unique_email()
    client.register(email)
    body = assert_problem(client.register(email), 409)
    assert body["type"] == "/problems/email-taken"


def test_a_throttled_route_is_a_429_problem_with_retry_after(client: ApiClient) -> None:
    headers = client.headers()
    for _ in range(5):  # VERIFICATION_MAIL_LIMIT_PER_ACCOUNT: 5/hour
        client.http.post("/auth/verify-email/resend", headers=headers)
    response = client.http.post("/auth/verify-email/resend", headers=headers)
    assert_problem(response, 429)
    assert int(response.headers["retry-after"]) > 0


def test_an_unknown_method_is_a_405_problem(client: ApiClient) -> None:
    assert_problem(client.http.put("/products"), 405)


def test_the_token_endpoint_answers_oauth_errors_for_a_bad_form(client: ApiClient) -> None:
    response = client.http.post("/auth/token", data={"username": "a@example.com"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "invalid_request"


def test_the_token_endpoint_answers_oauth_errors_for_a_value_too_long(
    client: ApiClient,
) -> None:
    response = client.http.post(
        "/auth/token", data={"username": "a@example.com", "password": "p" * 5000}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"error", "error_description"}


def test_a_wrong_password_at_the_token_endpoint_is_invalid_grant(client: ApiClient) -> None:
    email = unique_email()
    client.register(email)
    response = client.token(email, PASSWORD + "!")
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Incorrect e-mail or password.",
    }


def test_every_problem_type_has_its_page(client: ApiClient) -> None:
    for slug, kind in PROBLEM_TYPES.items():
        page = client.http.get(f"/problems/{slug}")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert kind.title in page.text


def test_an_unknown_problem_type_has_no_page(client: ApiClient) -> None:
    assert_problem(client.http.get("/problems/nothing-like-it"), 404)


def openapi_responses(client: ApiClient) -> list[tuple[str, str, dict[str, Any]]]:
    document = client.http.get("/openapi.json").json()
    return [
        (f"{method.upper()} {path}", code, response)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for code, response in operation["responses"].items()
    ]


def test_openapi_declares_every_error_as_a_problem_but_the_token_endpoints(
    client: ApiClient,
) -> None:
    for operation, code, response in openapi_responses(client):
        if int(code) < 400 or operation in ("GET /problems/{slug}", "GET /ready"):
            continue  # a page for people; the readiness report a balancer reads either way
        media_types = set(response.get("content", {}))
        if operation == "POST /auth/token":
            assert media_types == {"application/json"}, (operation, code)
        else:
            assert media_types == {"application/problem+json"}, (operation, code)


def test_openapi_operation_ids_are_the_route_names(client: ApiClient) -> None:
    document = client.http.get("/openapi.json").json()
    ids = {op["operationId"] for ops in document["paths"].values() for op in ops.values()}
    assert {"token", "register", "list_products", "read_product", "update_me"} <= ids
    assert "Body_token" in document["components"]["schemas"]
