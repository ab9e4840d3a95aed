"""What a person does in the web app, as small functions over Playwright's locators."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from tests.helpers import PASSWORD


def login_screen(page: Page) -> Locator:
    return page.get_by_role("heading", name="Log in")


def products_screen(page: Page) -> Locator:
    return page.get_by_role("heading", name="Your products")


def register(page: Page, email: str, password: str = PASSWORD, full_name: str = "") -> None:
    """From the login screen: open the register form, create the account, land on log in."""
    page.get_by_role("button", name="Create one").click()
    form = page.locator("form#register")
    form.get_by_label("E-mail").fill(email)
    form.get_by_label("Full name (optional)").fill(full_name)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Create account").click()


def login(page: Page, email: str, password: str = PASSWORD) -> None:
    form = page.locator("form#login")
    form.get_by_label("E-mail").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Log in").click()


def register_and_login(page: Page, email: str, password: str = PASSWORD) -> None:
    expect(login_screen(page)).to_be_visible()
    register(page, email, password)
    expect(page.get_by_role("status")).to_contain_text("Account created")
    login(page, email, password)
    expect(products_screen(page)).to_be_visible()


def create_product(page: Page, name: str, price: str, description: str = "") -> None:
    form = page.locator("form#create-product")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Price").fill(price)
    form.get_by_label("Description").fill(description)
    form.get_by_role("button", name="Add product").click()


def rows(page: Page) -> Locator:
    return page.locator("table.products tbody tr")


def row(page: Page, name: str) -> Locator:
    return rows(page).filter(
        has=page.locator("td.name", has_text=re.compile(f"^{re.escape(name)}$"))
    )


def pager(page: Page) -> Locator:
    return page.locator("nav.pager .summary")


def logout(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(login_screen(page)).to_be_visible()
