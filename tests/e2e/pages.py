"""What a person does in the web app, as small functions over Playwright's locators."""

from __future__ import annotations

import re
from email.message import EmailMessage

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


# --- mail links: forgotten password, e-mail verification ----------------------------------------


def link_in_mail(mail: EmailMessage, web_origin: str, path: str) -> str:
    """The `{web_origin}/{path}?token=…` link in the mail's plain-text part."""
    part = mail.get_body(preferencelist=("plain",))
    assert part is not None, f"no text/plain part in {mail['Subject']!r}"
    text = part.get_content()
    found = re.findall(rf"{re.escape(web_origin)}/{re.escape(path)}\?token=[A-Za-z0-9._~%-]+", text)
    assert len(found) == 1, f"expected one {path} link in:\n{text}"
    return str(found[0])


def forgot_password_screen(page: Page) -> Locator:
    return page.get_by_role("heading", name="Reset your password")


def reset_password_screen(page: Page) -> Locator:
    return page.get_by_role("heading", name="Choose a new password")


def verify_email_screen(page: Page) -> Locator:
    return page.get_by_role("heading", name="Confirm your e-mail address")


def verify_notice(page: Page) -> Locator:
    """The notice a logged-in user with an unverified address sees above the products."""
    return page.get_by_role("region", name="E-mail verification")


def forgot_password(page: Page, email: str) -> None:
    """From the login screen: ask for a reset link."""
    page.get_by_role("button", name="Forgot your password?").click()
    form = page.locator("form#forgot-password")
    form.get_by_label("E-mail").fill(email)
    form.get_by_role("button", name="Send reset link").click()


def set_new_password(page: Page, password: str) -> None:
    """On the page a reset link opens."""
    form = page.locator("form#reset-password")
    form.get_by_label("New password").fill(password)
    form.get_by_role("button", name="Set new password").click()


def resend_verification(page: Page) -> None:
    verify_notice(page).get_by_role("button", name="Resend verification e-mail").click()


# --- personal access tokens ----------------------------------------------------------------------


TOKEN_PATTERN = re.compile(r"^stk_pat_[0-9A-Za-z]{49}$")


def access_tokens_screen(page: Page) -> Locator:
    return page.get_by_role("heading", name="Your access tokens")


def open_access_tokens(page: Page) -> None:
    """From any page of the logged-in app: the "Access tokens" entry of the navigation."""
    page.get_by_role("navigation", name="Main").get_by_role("button", name="Access tokens").click()
    expect(access_tokens_screen(page)).to_be_visible()


def create_token(
    page: Page, name: str, scopes: tuple[str, ...] = ("products:read",), days: str = "30"
) -> None:
    """Fills the create form (every scope box set to match `scopes`) and submits it."""
    form = page.locator("form#create-token")
    form.get_by_label("Name").fill(name)
    for box in form.get_by_role("checkbox").all():
        box.set_checked(box.get_attribute("value") in scopes)
    form.get_by_label("Lifetime (days").fill(days)
    form.get_by_role("button", name="Create token").click()


def new_token_panel(page: Page) -> Locator:
    """Shown once after a token is made: the token in a read-only field, with "Copy"."""
    return page.get_by_role("region", name="New access token")


def new_token_field(page: Page) -> Locator:
    return new_token_panel(page).get_by_label("Your new token")


def token_rows(page: Page) -> Locator:
    return page.locator("table.tokens tbody tr")


def token_row(page: Page, name: str) -> Locator:
    return token_rows(page).filter(
        has=page.locator("td.name", has_text=re.compile(f"^{re.escape(name)}$"))
    )


def revoke_token(page: Page, name: str) -> None:
    """The row's Revoke button, then the confirmation."""
    token_row(page, name).get_by_role("button", name="Revoke", exact=True).click()
    token_row(page, name).get_by_role("button", name="Yes, revoke", exact=True).click()


def token_list(page: Page) -> Locator:
    """The card with the list of live tokens (its own notices and errors)."""
    return page.locator("section.card", has=access_tokens_screen(page))
