"""Register, log in, and manage products in the web app; each user sees only their own."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from tests.e2e import pages
from tests.e2e.conftest import LOGIN_FAILURES_ALLOWED, Account, WebApp, api_account
from tests.helpers import PASSWORD, unique_email


def test_register_login_and_manage_products(webapp: WebApp) -> None:
    page = webapp.open()
    email = unique_email("crud")

    with webapp.step("register-422-per-field"):
        expect(pages.login_screen(page)).to_be_visible()
        pages.register(page, "not-an-email", "short")
        form = page.locator("form#register")
        expect(
            form.locator(".field", has=page.get_by_label("E-mail")).locator(".field-error")
        ).to_contain_text("email")
        expect(
            form.locator(
                ".field", has=page.get_by_label("Password (at least 8 characters)")
            ).locator(".field-error")
        ).to_contain_text("8 characters")

    with webapp.step("register"):
        form.get_by_label("E-mail").fill(email)
        form.get_by_label("Password (at least 8 characters)").fill(PASSWORD)
        form.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("status")).to_contain_text("Account created")
        expect(page.locator("form#login").get_by_label("E-mail")).to_have_value(email)

    with webapp.step("register-409-duplicate"):
        pages.register(page, email, PASSWORD)
        expect(page.get_by_role("alert")).to_contain_text("already exists")
        page.get_by_role("button", name="Log in").click()

    with webapp.step("login-wrong-password"):
        pages.login(page, email, "wrong password!")
        expect(page.get_by_role("alert")).to_be_visible()
        expect(pages.login_screen(page)).to_be_visible()

    with webapp.step("login"):
        pages.login(page, email)
        expect(pages.products_screen(page)).to_be_visible()
        expect(page.get_by_text("No products yet")).to_be_visible()
        expect(page.locator(".user-email")).to_have_text(email)

    with webapp.step("create"):
        pages.create_product(page, "Widget", "19.99", "A small widget")
        expect(pages.row(page, "Widget").locator("td.price")).to_have_text("19.99")
        expect(page.get_by_role("status")).to_contain_text("Created “Widget”")
        expect(page.locator("form#create-product").get_by_label("Name")).to_have_value("")
        expect(pages.pager(page)).to_contain_text("1–1 of 1")

    with webapp.step("create-422-per-field"):
        pages.create_product(page, "Broken", "12.345")
        price_field = page.locator("form#create-product .field", has=page.get_by_label("Price"))
        expect(price_field.locator(".field-error")).to_be_visible()
        expect(pages.row(page, "Broken")).to_have_count(0)

    with webapp.step("edit"):
        pages.row(page, "Widget").get_by_role("button", name="Edit").click()
        edit = page.locator("tr.editing form")
        expect(edit.get_by_label("Name")).to_have_value("Widget")
        edit.get_by_label("Name").fill("Super widget")
        edit.get_by_label("Price").fill("24.5")
        edit.get_by_role("button", name="Save").click()
        expect(pages.row(page, "Super widget").locator("td.price")).to_have_text("24.50")
        expect(pages.row(page, "Widget")).to_have_count(0)

    with webapp.step("delete"):
        pages.create_product(page, "Gadget", "5")
        expect(pages.row(page, "Gadget")).to_be_visible()
        expect(pages.pager(page)).to_contain_text("of 2")
        pages.row(page, "Gadget").get_by_role("button", name="Delete").click()
        pages.row(page, "Gadget").get_by_role("button", name="Yes, delete").click()
        expect(pages.row(page, "Gadget")).to_have_count(0)
        expect(pages.row(page, "Super widget")).to_be_visible()
        expect(pages.pager(page)).to_contain_text("1–1 of 1")


def test_pagination_and_error_messages(webapp: WebApp) -> None:
    account = api_account(webapp.api_url, "pages")
    with httpx.Client(base_url=webapp.api_url, headers=account.headers, timeout=10) as http:
        for n in range(1, 13):
            response = http.post("/products", json={"name": f"Item {n:02d}", "price": f"{n}.00"})
            assert response.status_code == 201, response.text
    page = webapp.open()

    with webapp.step("login"):
        pages.login(page, account.email)
        expect(pages.products_screen(page)).to_be_visible()

    with webapp.step("paginate"):
        expect(pages.pager(page)).to_have_text("1–10 of 12 · page 1 of 2")
        expect(pages.rows(page)).to_have_count(10)
        page.get_by_role("button", name="Next →").click()
        expect(pages.pager(page)).to_have_text("11–12 of 12 · page 2 of 2")
        expect(pages.rows(page)).to_have_count(2)
        expect(page.get_by_role("button", name="Next →")).to_be_disabled()
        page.get_by_label("Per page").select_option("5")
        expect(pages.pager(page)).to_have_text("1–5 of 12 · page 1 of 3")
        page.get_by_role("button", name="Next →").click()
        page.get_by_role("button", name="Next →").click()
        expect(pages.pager(page)).to_have_text("11–12 of 12 · page 3 of 3")

    with webapp.step("412-edit-changed-elsewhere"):
        target = pages.row(page, "Item 11")
        product_id = target.get_attribute("data-product-id")
        target.get_by_role("button", name="Edit").click()
        with httpx.Client(base_url=webapp.api_url, headers=account.headers) as http:
            changed = http.patch(f"/products/{product_id}", json={"price": "77.00"})
            assert changed.status_code == 200
        edit = page.locator("tr.editing form")
        edit.get_by_label("Price").fill("11.50")
        edit.get_by_role("button", name="Save").click()
        expect(page.get_by_role("alert")).to_contain_text("Someone changed this product")
        expect(pages.row(page, "Item 11").locator("td.price")).to_have_text("77.00")
        with httpx.Client(base_url=webapp.api_url, headers=account.headers) as http:
            assert http.get(f"/products/{product_id}").json()["price"] == "77.00"

    with webapp.step("404-edit-deleted-elsewhere"):
        target = pages.row(page, "Item 12")
        product_id = target.get_attribute("data-product-id")
        target.get_by_role("button", name="Edit").click()
        with httpx.Client(base_url=webapp.api_url, headers=account.headers) as http:
            assert http.delete(f"/products/{product_id}").status_code == 204
        edit = page.locator("tr.editing form")
        edit.get_by_label("Price").fill("99")
        edit.get_by_role("button", name="Save").click()
        expect(page.get_by_role("alert")).to_contain_text("no longer exists")
        expect(pages.row(page, "Item 12")).to_have_count(0)
        expect(pages.pager(page)).to_contain_text("of 11")


def test_second_user_sees_none_of_the_first_users_products(webapp: WebApp) -> None:
    first, second = webapp.open(), webapp.open()  # two browser profiles, two cookie jars

    with webapp.step("first-user-creates"):
        pages.register_and_login(first, unique_email("first"))
        pages.create_product(first, "Secret sauce", "3.50")
        expect(pages.row(first, "Secret sauce")).to_be_visible()
        product_id = pages.row(first, "Secret sauce").get_attribute("data-product-id")
        assert product_id

    with webapp.step("second-user-sees-nothing"):
        second_email = unique_email("second")
        pages.register_and_login(second, second_email)
        expect(second.get_by_text("No products yet")).to_be_visible()
        expect(pages.rows(second)).to_have_count(0)
        pages.create_product(second, "Own thing", "1.00")
        expect(pages.rows(second)).to_have_count(1)
        expect(pages.row(second, "Secret sauce")).to_have_count(0)

    with webapp.step("first-user-still-sees-only-own"):
        first.reload()
        expect(pages.rows(first)).to_have_count(1)
        expect(pages.row(first, "Own thing")).to_have_count(0)

    with webapp.step("other-users-product-is-404"):
        other: Account = api_account(webapp.api_url, "third")
        with httpx.Client(base_url=webapp.api_url, headers=other.headers) as http:
            assert http.get(f"/products/{product_id}").status_code == 404
            assert http.patch(f"/products/{product_id}", json={"name": "x"}).status_code == 404
            assert http.delete(f"/products/{product_id}").status_code == 404


def test_too_many_failed_logins_show_the_wait_time(webapp: WebApp) -> None:
    account = api_account(webapp.api_url, "throttled")
    page = webapp.open()
    alert = page.locator("section").get_by_role("alert")

    with webapp.step("wrong-passwords"):
        for _ in range(LOGIN_FAILURES_ALLOWED):
            pages.login(page, account.email, "not the password")
            expect(alert).to_have_attribute("data-status", "400")
            expect(page.get_by_role("button", name="Log in", exact=True)).to_be_enabled()

    with webapp.step("throttled"):
        pages.login(page, account.email, "not the password")
        expect(alert).to_have_attribute("data-status", "429")
        expect(alert).to_contain_text(re.compile(r"Try again in \d+ (second|seconds)\."))
        expect(pages.login_screen(page)).to_be_visible()
