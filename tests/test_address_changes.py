"""Address changes are limited per account, and mail to any one address per hour, whichever
account asks: a changed address is neither an account oracle nor a way to mail a stranger."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.databases import make_settings
from tests.helpers import PASSWORD, ApiClient, bearer, unique_email
from tests.services import SmtpServer, wait_for


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def client_with(tmp_path: Path, smtp: SmtpServer, **limits: str) -> TestClient:
    settings = make_settings(tmp_path, SMTP_URL=smtp.url, MAIL_POLL_SECONDS=0.05, **limits)
    return TestClient(create_app(settings))


def change_address(client: ApiClient, headers: dict[str, str], email: str) -> int:
    body = {"email": email, "current_password": PASSWORD}
    return int(client.http.patch("/users/me", json=body, headers=headers).status_code)


def test_the_sixth_address_change_in_an_hour_is_429(tmp_path: Path, smtp: SmtpServer) -> None:
    with client_with(tmp_path, smtp) as http:
        client = ApiClient(http)
        headers = client.headers()
        statuses = [change_address(client, headers, unique_email("moved")) for _ in range(6)]
    assert statuses == [200] * 5 + [429]


def test_a_taken_address_costs_a_change_so_409s_cannot_enumerate_accounts(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    with client_with(tmp_path, smtp) as http:
        client = ApiClient(http)
        taken = unique_email("taken")
        client.register(taken)
        headers = client.headers()
        statuses = [change_address(client, headers, taken) for _ in range(6)]
    assert statuses == [409] * 5 + [429]


def test_alternating_changes_mail_a_stranger_at_most_the_recipient_limit(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    """The link to the new address and the notice to the old one both count."""
    stranger = unique_email("stranger")
    with client_with(tmp_path, smtp, EMAIL_CHANGE_LIMIT_PER_ACCOUNT="1000/hour") as http:
        client = ApiClient(http)
        email, token = client.new_user()
        headers = bearer(token["access_token"])
        statuses = [change_address(client, headers, address) for address in [stranger, email] * 10]
        mailed = len([s for s in statuses if s == 200])
        wait_for(lambda: len(smtp.received(stranger)) >= 5, "the mails that were allowed")
    assert statuses[:5] == [200] * 5  # 3 links to the stranger's address, 2 notices
    assert 429 in statuses
    assert len(smtp.received(stranger)) == 5 and mailed >= 5


def test_the_resend_limit_follows_the_account_through_an_address_change(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    with client_with(tmp_path, smtp) as http:
        client = ApiClient(http)
        headers = client.headers()

        def resend() -> int:
            return int(client.http.post("/auth/verify-email/resend", headers=headers).status_code)

        before = [resend() for _ in range(3)]
        assert change_address(client, headers, unique_email("moved")) == 200
        after = [resend() for _ in range(3)]  # a fresh address, the same account
    assert before == [202] * 3
    assert after == [202, 202, 429]
