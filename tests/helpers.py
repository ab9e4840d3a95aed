"""A thin client that speaks the API the way a script would, for tests that read as specs."""

import itertools
from typing import Any

import httpx
from fastapi.testclient import TestClient

PASSWORD = "correct horse battery staple"
_counter = itertools.count()


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_counter)}@example.com"


def assert_no_echo(body: Any) -> None:
    """A 422 body names the field and the problem; it never carries the submitted value back."""
    for error in body["detail"]:
        assert set(error) <= {"type", "loc", "msg"}, error


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class ApiClient:
    def __init__(self, http: TestClient) -> None:
        self.http = http

    def register(self, email: str | None = None, password: str = PASSWORD) -> httpx.Response:
        body = {"email": email or unique_email(), "password": password}
        response: httpx.Response = self.http.post("/auth/register", json=body)
        return response

    def token(self, email: str, password: str = PASSWORD, **form: str) -> httpx.Response:
        form = {"username": email, "password": password, **form}
        response: httpx.Response = self.http.post("/auth/token", data=form)
        return response

    def login(self, email: str, password: str = PASSWORD, **form: str) -> dict[str, Any]:
        response = self.token(email, password, **form)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def new_user(self, password: str = PASSWORD, **form: str) -> tuple[str, dict[str, Any]]:
        """Register and log in; the e-mail and the token response."""
        email = unique_email()
        assert self.register(email, password).status_code == 201
        return email, self.login(email, password, **form)

    def headers(self, password: str = PASSWORD, **form: str) -> dict[str, str]:
        return bearer(self.new_user(password, **form)[1]["access_token"])

    def refresh(self, refresh_token: str, **form: str) -> httpx.Response:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token, **form}
        response: httpx.Response = self.http.post("/auth/token", data=form)
        return response

    def create_product(self, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
        body = {"name": "Widget", "price": "9.99", **fields}
        response = self.http.post("/products", json=body, headers=headers)
        assert response.status_code == 201, response.text
        product: dict[str, Any] = response.json()
        return product
