"""Swagger UI at /docs, served by the API itself: log in with Authorize, then try the API."""

from __future__ import annotations

import json

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import WebApp
from tests.helpers import PASSWORD, unique_email

SCOPES = ("products:read", "products:write", "account")


def operation(page: Page, tag: str, operation_id: str) -> Locator:
    return page.locator(f"#operations-{tag}-{operation_id}")


def try_it_out(page: Page, block: Locator, body: dict[str, object] | None = None) -> Locator:
    """Expand an operation, press Try it out (fill the body) and Execute; the status cell."""
    block.locator(".opblock-summary").first.click()
    block.get_by_role("button", name="Try it out").click()
    if body is not None:
        block.locator("textarea.body-param__text").fill(json.dumps(body))
    block.get_by_role("button", name="Execute").click()
    return block.locator(".live-responses-table tr.response .response-col_status").first


def authorize(page: Page, email: str, scopes: tuple[str, ...]) -> None:
    page.locator(".auth-wrapper").get_by_role("button", name="Authorize").click()
    modal = page.locator(".modal-ux")
    expect(modal).to_be_visible()
    # The modal lists every security scheme (OAuth2 password, and bearer tokens for scripts),
    # each with its own buttons: work in the OAuth2 one (named after the scheme, as the form
    # inside it turns into "Authorized" once the token is issued).
    oauth = modal.locator(".auth-container", has_text="OAuth2PasswordBearer")
    oauth.locator("#oauth_username").fill(email)
    oauth.locator("#oauth_password").fill(PASSWORD)
    for scope in scopes:
        box = oauth.locator(f"input[type=checkbox][data-value='{scope}']")
        # Swagger UI hides the input itself and draws a box in its label: click that.
        oauth.locator(f"label[for='{box.get_attribute('id')}']").click()
        expect(box).to_be_checked()
    buttons = oauth.locator(".auth-btn-wrapper")
    buttons.locator("button.authorize", has_text="Authorize").click()
    expect(buttons).to_contain_text("Logout")  # shown once the token request succeeded
    expect(oauth.locator(".errors")).to_have_count(0)
    buttons.locator("button", has_text="Close").click()
    expect(modal).to_have_count(0)


def test_docs_read_only_authorization_cannot_write(webapp: WebApp) -> None:
    email = unique_email("docs-ro")
    response = httpx.post(
        f"{webapp.api_url}/auth/register", json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 201, response.text
    page = webapp.new_context().new_page()
    page.goto(f"{webapp.api_url}/docs")

    with webapp.step("authorize-read-only"):
        authorize(page, email, ("products:read",))

    with webapp.step("read-allowed"):
        status = try_it_out(page, operation(page, "products", "list_products"))
        expect(status).to_have_text("200")

    with webapp.step("write-refused-403"):
        block = operation(page, "products", "create_product")
        status = try_it_out(page, block, {"name": "Not allowed", "price": "1.00"})
        expect(status).to_have_text("403")
        expect(
            block.locator(".live-responses-table tr.response .response-col_description")
        ).to_contain_text("products:write")


def test_docs_authorize_and_try_it_out(webapp: WebApp) -> None:
    email = unique_email("docs")
    response = httpx.post(
        f"{webapp.api_url}/auth/register", json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 201, response.text
    page = webapp.new_context().new_page()

    with webapp.step("open-docs-offline"):
        outside: list[str] = []
        page.on(
            "request",
            lambda r: (
                outside.append(r.url) if not r.url.startswith((webapp.api_url, "data:")) else None
            ),
        )
        page.goto(f"{webapp.api_url}/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("Stockroom")

    with webapp.step("authorize"):
        authorize(page, email, SCOPES)

    with webapp.step("try-users-me"):
        status = try_it_out(page, operation(page, "users", "read_me"))
        expect(status).to_have_text("200")
        body = operation(page, "users", "read_me").locator(
            ".live-responses-table tr.response .response-col_description"
        )
        expect(body).to_contain_text(email)

    with webapp.step("try-create-product"):
        block = operation(page, "products", "create_product")
        status = try_it_out(page, block, {"name": "From Swagger", "price": "12.50"})
        expect(status).to_have_text("201")
        expect(
            block.locator(".live-responses-table tr.response .response-col_description")
        ).to_contain_text("From Swagger")

    assert outside == [], f"/docs loaded from other hosts: {outside}"
