"""The links the API mails, followed in the browser: a forgotten password, a verified address.

Each flow starts from the mail the test's SMTP server received; its link is opened in the page
the way a person's mail client would open it (the static server answers the app for the path).
"""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.e2e import pages
from tests.e2e.conftest import VERIFICATION_MAILS_PER_HOUR, WebApp, api_account
from tests.helpers import PASSWORD, unique_email
from tests.services import SmtpServer

NEW_PASSWORD = "a brand new passphrase for stockroom"
RESET_SUBJECT = "Reset your Stockroom password"
VERIFY_SUBJECT = "Confirm your e-mail address"
DEAD_LINK = "This link has expired or was already used"


def ask_for_reset_link(webapp: WebApp, smtp: SmtpServer, email: str, count: int = 1) -> str:
    """Asks the API for a reset link (as a script would) and returns the one mailed."""
    response = httpx.post(f"{webapp.api_url}/auth/password-reset/request", json={"email": email})
    assert response.status_code == 202, response.text
    mail = smtp.wait_for_mail(email, RESET_SUBJECT, count=count)
    return pages.link_in_mail(mail, webapp.origin, "reset-password")


def assert_link_left_the_address_bar(page: Page) -> None:
    assert "token=" not in page.url, page.url
    assert not re.search(r"/(reset-password|verify-email)$", page.url.split("?")[0]), page.url


def test_forgotten_password_is_replaced_through_the_mailed_link(
    webapp: WebApp, smtp: SmtpServer
) -> None:
    account = api_account(webapp.api_url, "forgot")
    page = webapp.open()

    with webapp.step("ask-for-a-link"):
        expect(pages.login_screen(page)).to_be_visible()
        pages.forgot_password(page, account.email)
        expect(page.get_by_role("status")).to_contain_text("If an account uses this address")

    with webapp.step("open-the-mailed-link"):
        mail = smtp.wait_for_mail(account.email, RESET_SUBJECT)
        page.goto(pages.link_in_mail(mail, webapp.origin, "reset-password"))
        expect(pages.reset_password_screen(page)).to_be_visible()

    with webapp.step("set-a-new-password"):
        pages.set_new_password(page, NEW_PASSWORD)
        expect(pages.login_screen(page)).to_be_visible()
        expect(page.get_by_role("status")).to_contain_text("Your password has been changed")
        assert_link_left_the_address_bar(page)
        smtp.wait_for_mail(account.email, "password was changed")

    with webapp.step("log-in-with-the-new-password"):
        pages.login(page, account.email, NEW_PASSWORD)
        expect(pages.products_screen(page)).to_be_visible()
        pages.logout(page)

    with webapp.step("the-old-password-is-refused"):
        pages.login(page, account.email, PASSWORD)
        alert = page.locator("section").get_by_role("alert")
        expect(alert).to_have_attribute("data-status", "400")
        expect(pages.login_screen(page)).to_be_visible()
        expect(pages.products_screen(page)).to_have_count(0)


def test_forgot_password_answers_the_same_for_an_unknown_address(
    webapp: WebApp, smtp: SmtpServer
) -> None:
    known = api_account(webapp.api_url, "known")
    page = webapp.open()
    answers: list[str] = []
    for email in (known.email, unique_email("nobody")):
        with webapp.step(f"ask-for-{email}"):
            expect(pages.login_screen(page)).to_be_visible()
            pages.forgot_password(page, email)
            status = page.get_by_role("status")
            expect(status).to_contain_text("If an account uses this address")
            answers.append(status.inner_text())
            page.get_by_role("button", name="Back to log in").click()
    assert answers[0] == answers[1]
    smtp.wait_for_mail(known.email, RESET_SUBJECT)


def test_a_used_reset_link_says_so_and_offers_a_new_one(webapp: WebApp, smtp: SmtpServer) -> None:
    account = api_account(webapp.api_url, "reused")
    link = ask_for_reset_link(webapp, smtp, account.email)
    page = webapp.new_context().new_page()

    with webapp.step("use-the-link"):
        page.goto(link)
        pages.set_new_password(page, NEW_PASSWORD)
        expect(page.get_by_role("status")).to_contain_text("Your password has been changed")

    with webapp.step("open-it-again"):
        page.goto(link)
        expect(pages.reset_password_screen(page)).to_be_visible()
        pages.set_new_password(page, "yet another passphrase here")
        expect(page.get_by_role("alert")).to_contain_text(DEAD_LINK)
        expect(page.locator("form#reset-password")).to_have_count(0)
        assert_link_left_the_address_bar(page)

    with webapp.step("ask-for-a-new-link"):
        page.get_by_role("button", name="Ask for a new link").click()
        expect(pages.forgot_password_screen(page)).to_be_visible()

    with webapp.step("the-password-from-the-first-use-stands"):
        page.get_by_role("button", name="Back to log in").click()
        pages.login(page, account.email, NEW_PASSWORD)
        expect(pages.products_screen(page)).to_be_visible()


def test_a_refused_new_password_is_shown_beside_its_field(webapp: WebApp, smtp: SmtpServer) -> None:
    account = api_account(webapp.api_url, "weak")
    link = ask_for_reset_link(webapp, smtp, account.email)
    page = webapp.new_context().new_page()

    with webapp.step("common-password"):
        page.goto(link)
        pages.set_new_password(page, "password")
        field_error = page.locator("form#reset-password .field-error")
        expect(field_error).to_contain_text("commonly used")
        expect(page.locator("form#reset-password input[name=new_password]")).to_have_attribute(
            "aria-invalid", "true"
        )

    with webapp.step("the-link-still-works"):
        pages.set_new_password(page, NEW_PASSWORD)
        expect(page.get_by_role("status")).to_contain_text("Your password has been changed")


def test_verifying_the_address_from_the_registration_mail(webapp: WebApp, smtp: SmtpServer) -> None:
    email = unique_email("verify")
    context = webapp.new_context()
    first = webapp.open(context)

    with webapp.step("registered-and-unverified"):
        pages.register_and_login(first, email)
        expect(pages.verify_notice(first)).to_contain_text(email)

    with webapp.step("open-the-link-in-another-tab"):
        mail = smtp.wait_for_mail(email, VERIFY_SUBJECT)
        second = context.new_page()
        second.goto(pages.link_in_mail(mail, webapp.origin, "verify-email"))
        expect(pages.verify_email_screen(second)).to_be_visible()
        expect(second.get_by_role("status")).to_contain_text("Your e-mail address is verified")
        assert_link_left_the_address_bar(second)

    with webapp.step("the-notice-goes-in-the-first-tab"):
        expect(pages.verify_notice(first)).to_have_count(0)
        expect(pages.products_screen(first)).to_be_visible()

    with webapp.step("continue-in-the-second-tab"):
        second.get_by_role("button", name="Continue to Stockroom").click()
        expect(pages.products_screen(second)).to_be_visible()
        expect(pages.verify_notice(second)).to_have_count(0)

    with webapp.step("still-verified-after-a-reload"):
        first.reload()
        expect(pages.products_screen(first)).to_be_visible()
        expect(pages.verify_notice(first)).to_have_count(0)


def test_resending_the_verification_mail_replaces_the_first_link(
    webapp: WebApp, smtp: SmtpServer
) -> None:
    email = unique_email("resend")
    page = webapp.open()

    with webapp.step("registered"):
        pages.register_and_login(page, email)
        first_mail = smtp.wait_for_mail(email, VERIFY_SUBJECT)

    with webapp.step("resend"):
        pages.resend_verification(page)
        expect(pages.verify_notice(page).get_by_role("status")).to_contain_text(
            f"A new verification link is on its way to {email}"
        )
        second_mail = smtp.wait_for_mail(email, VERIFY_SUBJECT, count=2)

    with webapp.step("the-first-link-is-dead"):
        page.goto(pages.link_in_mail(first_mail, webapp.origin, "verify-email"))
        expect(page.get_by_role("alert")).to_contain_text(DEAD_LINK)
        page.get_by_role("button", name="Continue to Stockroom").click()
        expect(pages.verify_notice(page)).to_be_visible()

    with webapp.step("the-second-link-works"):
        page.goto(pages.link_in_mail(second_mail, webapp.origin, "verify-email"))
        expect(page.get_by_role("status")).to_contain_text("Your e-mail address is verified")
        page.get_by_role("button", name="Continue to Stockroom").click()
        expect(pages.products_screen(page)).to_be_visible()
        expect(pages.verify_notice(page)).to_have_count(0)


def test_resend_after_verifying_elsewhere_says_already_verified(
    webapp: WebApp, smtp: SmtpServer
) -> None:
    email = unique_email("already")
    page = webapp.open()

    with webapp.step("registered"):
        pages.register_and_login(page, email)
        expect(pages.verify_notice(page)).to_be_visible()

    with webapp.step("verified-on-another-device"):
        mail = smtp.wait_for_mail(email, VERIFY_SUBJECT)
        token = pages.link_in_mail(mail, webapp.origin, "verify-email").split("token=", 1)[1]
        response = httpx.post(f"{webapp.api_url}/auth/verify-email", json={"token": token})
        assert response.status_code == 204, response.text

    with webapp.step("resend-is-409"):
        pages.resend_verification(page)
        notice = pages.verify_notice(page)
        expect(notice.get_by_role("status")).to_contain_text("already verified")
        expect(notice.get_by_role("button", name="Resend verification e-mail")).to_have_count(0)


def test_resending_too_often_shows_the_wait(webapp: WebApp, smtp: SmtpServer) -> None:
    email = unique_email("often")
    page = webapp.open()
    notice = pages.verify_notice(page)

    with webapp.step("registered"):
        pages.register_and_login(page, email)
        smtp.wait_for_mail(email, VERIFY_SUBJECT)

    with webapp.step("resend-up-to-the-limit"):
        for sent in range(2, VERIFICATION_MAILS_PER_HOUR + 2):
            pages.resend_verification(page)
            smtp.wait_for_mail(email, VERIFY_SUBJECT, count=sent)
            expect(notice.get_by_role("status")).to_contain_text("on its way")

    with webapp.step("one-more-is-429"):
        pages.resend_verification(page)
        alert = notice.get_by_role("alert")
        expect(alert).to_have_attribute("data-status", "429")
        expect(alert).to_have_text(re.compile(r"^Too many attempts\. Try again in \d+ seconds?\.$"))
        expect(notice.get_by_role("status")).to_have_count(0)
