"""Personal access tokens in the web app: made, copied once, used by a script, revoked."""

from __future__ import annotations

import httpx
from playwright.sync_api import Response, expect

from tests.e2e import pages
from tests.e2e.conftest import WebApp, api_account
from tests.helpers import unique_email

MAX_LIVE_TOKENS = 50


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def is_token_list(response: Response) -> bool:
    return response.request.method == "GET" and response.url.endswith("/users/me/tokens")


def test_create_copy_use_and_revoke_a_token(webapp: WebApp) -> None:
    context = webapp.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=webapp.origin)
    page = webapp.open(context)
    form = page.locator("form#create-token")

    with webapp.step("login-and-open-access-tokens"):
        pages.register_and_login(page, unique_email("tokens"))
        pages.open_access_tokens(page)
        expect(pages.token_list(page).get_by_text("No access tokens yet")).to_be_visible()
        expect(
            page.get_by_role("navigation", name="Main").get_by_role("button", name="Access tokens")
        ).to_have_attribute("aria-current", "page")

    with webapp.step("create-422-per-field"):
        pages.create_token(page, "", scopes=(), days="0")
        name_field = form.locator(".field", has=page.get_by_label("Name"))
        expect(name_field.locator(".field-error")).to_be_visible()
        expect(form.locator("fieldset.scopes .field-error")).to_contain_text("at least 1")
        days_field = form.locator(".field", has=page.get_by_label("Lifetime (days"))
        expect(days_field.locator(".field-error")).to_contain_text("greater than or equal to 1")
        expect(pages.new_token_panel(page)).to_have_count(0)
        expect(pages.token_rows(page)).to_have_count(0)

    with webapp.step("create"):
        pages.create_token(page, "nightly import", scopes=("products:read",), days="30")
        field = pages.new_token_field(page)
        expect(field).to_have_value(pages.TOKEN_PATTERN)
        expect(field).to_have_attribute("readonly", "")
        expect(pages.new_token_panel(page)).to_contain_text("will not be shown again")
        shown = field.input_value()
        row = pages.token_row(page, "nightly import")
        expect(row.locator("td.scopes")).to_have_text("products:read")
        expect(row.locator("td.created time")).to_have_count(1)
        expect(row.locator("td.expires time")).to_have_count(1)
        expect(row.locator("td.last-used")).to_have_text("never")
        expect(form.get_by_label("Name")).to_have_value("")  # ready for the next one

    with webapp.step("copy"):
        panel = pages.new_token_panel(page)
        panel.get_by_role("button", name="Copy", exact=True).click()
        expect(panel.get_by_role("button", name="Copied", exact=True)).to_be_visible()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == shown

    with webapp.step("the-copied-token-works-within-its-scope"):
        with httpx.Client(base_url=webapp.api_url, headers=bearer(copied), timeout=10) as http:
            assert http.get("/products").status_code == 200
            write = http.post("/products", json={"name": "by script", "price": "1.00"})
            assert write.status_code == 403, write.text  # products:read only
            assert http.get("/users/me/tokens").status_code == 403  # never the account

    with webapp.step("reload-shows-the-token-but-not-its-secret"):
        page.reload()
        expect(pages.products_screen(page)).to_be_visible()
        with page.expect_response(is_token_list) as listed:
            pages.open_access_tokens(page)
        assert listed.value.ok
        assert copied not in listed.value.text()
        assert all("token" not in item for item in listed.value.json())
        row = pages.token_row(page, "nightly import")
        expect(row).to_be_visible()
        expect(row.locator("td.last-used time")).to_have_count(1)  # the script's call
        expect(pages.new_token_panel(page)).to_have_count(0)
        assert copied not in page.content()

    with webapp.step("revoke-asks-first"):
        row.get_by_role("button", name="Revoke", exact=True).click()
        expect(row).to_contain_text("Revoke?")
        row.get_by_role("button", name="No", exact=True).click()
        expect(row.get_by_role("button", name="Revoke", exact=True)).to_be_visible()
        with httpx.Client(base_url=webapp.api_url, headers=bearer(copied), timeout=10) as http:
            assert http.get("/products").status_code == 200

    with webapp.step("revoke"):
        pages.revoke_token(page, "nightly import")
        expect(pages.token_list(page).get_by_role("status")).to_contain_text(
            "Revoked “nightly import”"
        )
        expect(pages.token_row(page, "nightly import")).to_have_count(0)
        expect(pages.token_list(page).get_by_text("No access tokens yet")).to_be_visible()

    with webapp.step("the-revoked-token-is-refused"):
        with httpx.Client(base_url=webapp.api_url, headers=bearer(copied), timeout=10) as http:
            assert http.get("/products").status_code == 401


def test_the_limit_and_a_token_revoked_elsewhere(webapp: WebApp) -> None:
    account = api_account(webapp.api_url, "manytokens")
    ids: list[int] = []
    with httpx.Client(base_url=webapp.api_url, headers=account.headers, timeout=10) as http:
        for n in range(1, MAX_LIVE_TOKENS + 1):
            body = {"name": f"script {n:02d}", "scopes": ["products:read"], "expires_in_days": 7}
            response = http.post("/users/me/tokens", json=body)
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
    page = webapp.open()

    with webapp.step("login-and-open-access-tokens"):
        pages.login(page, account.email)
        expect(pages.products_screen(page)).to_be_visible()
        pages.open_access_tokens(page)
        expect(pages.token_rows(page)).to_have_count(MAX_LIVE_TOKENS)

    with webapp.step("409-at-the-limit"):
        pages.create_token(page, "one too many")
        alert = page.locator("form#create-token").get_by_role("alert")
        expect(alert).to_have_attribute("data-status", "409")
        expect(alert).to_contain_text(f"{MAX_LIVE_TOKENS} live tokens")
        expect(pages.new_token_panel(page)).to_have_count(0)
        expect(pages.token_row(page, "one too many")).to_have_count(0)

    with webapp.step("404-revoked-elsewhere"):
        with httpx.Client(base_url=webapp.api_url, headers=account.headers, timeout=10) as http:
            assert http.delete(f"/users/me/tokens/{ids[0]}").status_code == 204
        pages.revoke_token(page, "script 01")
        expect(pages.token_list(page).get_by_role("alert")).to_contain_text("already revoked")
        expect(pages.token_row(page, "script 01")).to_have_count(0)
        expect(pages.token_rows(page)).to_have_count(MAX_LIVE_TOKENS - 1)

    with webapp.step("create-after-revoking-one"):
        pages.create_token(page, "writer", scopes=("products:read", "products:write"), days="365")
        field = pages.new_token_field(page)
        expect(field).to_have_value(pages.TOKEN_PATTERN)
        expect(page.locator("form#create-token").get_by_role("alert")).to_have_count(0)
        expect(pages.token_row(page, "writer").locator("td.scopes")).to_have_text(
            "products:read, products:write"
        )
        expect(pages.token_rows(page)).to_have_count(MAX_LIVE_TOKENS)
        with httpx.Client(base_url=webapp.api_url, headers=bearer(field.input_value())) as http:
            created = http.post("/products", json={"name": "by script", "price": "1.00"})
            assert created.status_code == 201, created.text

    with webapp.step("done-hides-the-secret"):
        pages.new_token_panel(page).get_by_role("button", name="Done").click()
        expect(pages.new_token_panel(page)).to_have_count(0)
        expect(pages.token_row(page, "writer")).to_be_visible()
