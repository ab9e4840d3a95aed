"""Account mail through a real SMTP server: verification, password reset, notices, outages."""

import asyncio
import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.mailer import FileTransport, MailSender, running
from api.main import create_app
from api.secret_key import signing_secret
from models.connect import open_database
from tests.databases import BACKEND, execute_sql, fresh_database_url, make_settings
from tests.helpers import PASSWORD, ApiClient, bearer, link_token, unique_email
from tests.services import PostgresServer, SmtpServer, UvicornServer, wait_for

NEW_PASSWORD = "a brand new passphrase"
RESET_SUBJECT = "Reset your"
VERIFY_SUBJECT = "Confirm your"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def mail_settings(tmp_path: Path, smtp: SmtpServer, **overrides: Any) -> Any:
    return make_settings(
        tmp_path,
        SMTP_URL=smtp.url,
        MAIL_POLL_SECONDS=0.05,
        MAIL_RETRY_SECONDS=0.2,
        PUBLIC_APP_URL="https://app.example.test",
        **overrides,
    )


@pytest.fixture
def settings(tmp_path: Path, smtp: SmtpServer) -> Any:
    return mail_settings(tmp_path, smtp)


@pytest.fixture
def client(settings: Any) -> Iterator[ApiClient]:
    with TestClient(create_app(settings)) as http:
        yield ApiClient(http)


def request_reset(client: ApiClient, email: str) -> Any:
    return client.http.post("/auth/password-reset/request", json={"email": email})


def confirm_reset(client: ApiClient, token: str, password: str = NEW_PASSWORD) -> Any:
    body = {"token": token, "new_password": password}
    return client.http.post("/auth/password-reset/confirm", json=body)


def reset_token(client: ApiClient, smtp: SmtpServer, email: str, count: int = 1) -> str:
    assert request_reset(client, email).status_code == 202
    return link_token(smtp.wait_for_mail(email, RESET_SUBJECT, count), "/reset-password")


def verify_token(smtp: SmtpServer, email: str, count: int = 1) -> str:
    return link_token(smtp.wait_for_mail(email, VERIFY_SUBJECT, count), "/verify-email")


# --- verification ------------------------------------------------------------------------------


def test_registration_mails_a_link_that_verifies_the_address(
    client: ApiClient, smtp: SmtpServer
) -> None:
    email, token = client.new_user()
    me = client.http.get("/users/me", headers=bearer(token["access_token"]))
    assert me.json()["email_verified"] is False
    link = verify_token(smtp, email)
    assert client.http.post("/auth/verify-email", json={"token": link}).status_code == 204
    me = client.http.get("/users/me", headers=bearer(token["access_token"]))
    assert me.json()["email_verified"] is True


def test_a_verification_link_works_once(client: ApiClient, smtp: SmtpServer) -> None:
    email, _ = client.new_user()
    link = verify_token(smtp, email)
    assert client.http.post("/auth/verify-email", json={"token": link}).status_code == 204
    again = client.http.post("/auth/verify-email", json={"token": link})
    assert again.status_code == 400
    assert "expired or was already used" in again.json()["detail"]


def test_a_made_up_verification_token_is_400(client: ApiClient) -> None:
    response = client.http.post("/auth/verify-email", json={"token": "x" * 43})
    assert response.status_code == 400


def test_resend_mails_a_new_link_and_retires_the_old_one(
    client: ApiClient, smtp: SmtpServer
) -> None:
    email, token = client.new_user()
    old = verify_token(smtp, email)
    headers = bearer(token["access_token"])
    assert client.http.post("/auth/verify-email/resend", headers=headers).status_code == 202
    new = verify_token(smtp, email, count=2)
    assert client.http.post("/auth/verify-email", json={"token": old}).status_code == 400
    assert client.http.post("/auth/verify-email", json={"token": new}).status_code == 204


def test_resend_for_a_verified_address_is_409(client: ApiClient, smtp: SmtpServer) -> None:
    email, token = client.new_user()
    client.http.post("/auth/verify-email", json={"token": verify_token(smtp, email)})
    headers = bearer(token["access_token"])
    assert client.http.post("/auth/verify-email/resend", headers=headers).status_code == 409


def test_resend_is_throttled(tmp_path: Path, smtp: SmtpServer) -> None:
    settings = mail_settings(tmp_path, smtp, VERIFICATION_MAIL_LIMIT_PER_ACCOUNT="1/hour")
    with TestClient(create_app(settings)) as http:
        headers = ApiClient(http).headers()
        assert http.post("/auth/verify-email/resend", headers=headers).status_code == 202
        throttled = http.post("/auth/verify-email/resend", headers=headers)
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0


# --- password reset ----------------------------------------------------------------------------


def test_a_reset_link_sets_the_new_password_and_ends_every_session(
    client: ApiClient, smtp: SmtpServer
) -> None:
    email, before = client.new_user()
    token = reset_token(client, smtp, email)
    assert confirm_reset(client, token).status_code == 204
    assert client.token(email, NEW_PASSWORD).status_code == 200
    assert client.token(email, PASSWORD).status_code == 400
    assert client.http.get("/users/me", headers=bearer(before["access_token"])).status_code == 401
    assert client.refresh(before["refresh_token"]).status_code == 400
    smtp.wait_for_mail(email, "password was changed")


def test_a_reset_ends_the_accounts_personal_tokens(client: ApiClient, smtp: SmtpServer) -> None:
    email, login = client.new_user()
    body = {"name": "ci", "scopes": ["products:read"], "expires_in_days": 1}
    created = client.http.post("/users/me/tokens", json=body, headers=bearer(login["access_token"]))
    pat = bearer(created.json()["token"])
    assert client.http.get("/products", headers=pat).status_code == 200
    assert confirm_reset(client, reset_token(client, smtp, email)).status_code == 204
    assert client.http.get("/products", headers=pat).status_code == 401


def test_a_reset_link_works_once(client: ApiClient, smtp: SmtpServer) -> None:
    email, _ = client.new_user()
    token = reset_token(client, smtp, email)
    assert confirm_reset(client, token).status_code == 204
    again = confirm_reset(client, token, "yet another passphrase")
    assert again.status_code == 400
    assert client.token(email, NEW_PASSWORD).status_code == 200


def test_an_expired_reset_link_is_refused(
    client: ApiClient, smtp: SmtpServer, settings: Any
) -> None:
    email, _ = client.new_user()
    token = reset_token(client, smtp, email)
    execute_sql(settings, "UPDATE email_tokens SET expires_at = created_at")
    assert confirm_reset(client, token).status_code == 400
    assert client.token(email, PASSWORD).status_code == 200


def test_a_password_change_kills_an_outstanding_reset_link(
    client: ApiClient, smtp: SmtpServer
) -> None:
    email, login = client.new_user()
    token = reset_token(client, smtp, email)
    change = {"current_password": PASSWORD, "new_password": "changed the usual way"}
    headers = bearer(login["access_token"])
    assert client.http.post("/users/me/password", json=change, headers=headers).status_code == 204
    assert confirm_reset(client, token).status_code == 400
    smtp.wait_for_mail(email, "password was changed")


def test_a_newer_reset_link_replaces_the_older(client: ApiClient, smtp: SmtpServer) -> None:
    email, _ = client.new_user()
    older = reset_token(client, smtp, email)
    newer = reset_token(client, smtp, email, count=2)
    assert confirm_reset(client, older).status_code == 400
    assert confirm_reset(client, newer).status_code == 204


def test_the_reset_policy_applies_and_a_refused_password_keeps_the_link(
    client: ApiClient, smtp: SmtpServer
) -> None:
    email, _ = client.new_user()
    token = reset_token(client, smtp, email)
    refused = confirm_reset(client, token, email)  # the address itself
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["body", "new_password"]
    assert confirm_reset(client, token).status_code == 204


def test_a_reset_also_verifies_the_address(client: ApiClient, smtp: SmtpServer) -> None:
    email, _ = client.new_user()
    assert confirm_reset(client, reset_token(client, smtp, email)).status_code == 204
    login = client.login(email, NEW_PASSWORD)
    me = client.http.get("/users/me", headers=bearer(login["access_token"]))
    assert me.json()["email_verified"] is True


def test_an_unknown_address_gets_the_same_202_and_no_mail(
    client: ApiClient, smtp: SmtpServer, settings: Any
) -> None:
    email, _ = client.new_user()
    ghost = unique_email("ghost")
    unknown = request_reset(client, ghost)
    known = request_reset(client, email)
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()
    smtp.wait_for_mail(email, RESET_SUBJECT)
    assert smtp.received(ghost) == []
    sql = "SELECT count(*) FROM mail_outbox WHERE recipient = :ghost"
    assert execute_sql(settings, sql, ghost=ghost)[0][0] == 0


def test_reset_requests_are_throttled_per_address_and_per_email(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    settings = mail_settings(
        tmp_path,
        smtp,
        PASSWORD_RESET_LIMIT_PER_ACCOUNT="2/hour",
        PASSWORD_RESET_LIMIT_PER_ADDRESS="3/hour",
    )
    with TestClient(create_app(settings)) as http:
        client = ApiClient(http)
        same = [request_reset(client, "same@example.com").status_code for _ in range(3)]
        assert same == [202, 202, 429]
        other = [request_reset(client, unique_email()).status_code for _ in range(2)]
        assert other == [202, 429]  # the address's third request, then its fourth
        throttled = request_reset(client, unique_email())
    assert int(throttled.headers["retry-after"]) > 0


# --- delivery ----------------------------------------------------------------------------------


def test_mail_waits_while_smtp_is_down_and_goes_out_when_it_returns(
    client: ApiClient, smtp: SmtpServer, settings: Any
) -> None:
    smtp.stop()
    email, _ = client.new_user()
    tried = "SELECT attempts, sent_at FROM mail_outbox WHERE recipient = :email"
    wait_for(
        lambda: execute_sql(settings, tried, email=email)[0][0] >= 2,
        "two failed tries while the server is down",
    )
    assert execute_sql(settings, tried, email=email)[0][1] is None
    smtp.start()
    smtp.wait_for_mail(email, VERIFY_SUBJECT)
    wait_for(
        lambda: execute_sql(settings, tried, email=email)[0][1] is not None,
        "the message to be marked sent",
    )


def test_the_outbox_and_the_log_never_hold_a_link_secret(
    client: ApiClient, smtp: SmtpServer, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    email, _ = client.new_user()
    token = verify_token(smtp, email)
    stored = execute_sql(settings, "SELECT body_text, body_html FROM mail_outbox")
    assert stored and all(token not in str(row) for row in stored)
    assert token not in caplog.text


def test_without_smtp_mail_is_written_to_files_and_the_log_says_where(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="stockroom.mail")
    mail_dir = tmp_path / "outgoing"
    settings = make_settings(tmp_path, MAIL_DIR=str(mail_dir), MAIL_POLL_SECONDS=0.05)
    with TestClient(create_app(settings)) as http:
        email, _ = ApiClient(http).new_user()
        files = wait_for(lambda: list(mail_dir.glob("*.eml")), "an .eml file")
    assert isinstance(files, list) and len(files) == 1
    text = files[0].read_text()
    assert f"To: {email}" in text and "/verify-email?token=" in text
    assert str(files[0]) in caplog.text


# --- the account ------------------------------------------------------------------------------


def test_when_verification_is_required_an_unverified_login_is_refused_after_the_password(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    settings = mail_settings(tmp_path, smtp, REQUIRE_VERIFIED_EMAIL=True)
    with TestClient(create_app(settings)) as http:
        client = ApiClient(http)
        email = unique_email()
        assert client.register(email).status_code == 201
        wrong = client.token(email, "not the password")
        unverified = client.token(email)
        http.post("/auth/verify-email", json={"token": verify_token(smtp, email)})
        verified = client.token(email)
    assert wrong.json()["error_description"] == "Incorrect e-mail or password."
    assert unverified.status_code == 400
    assert unverified.json()["error"] == "invalid_grant"
    assert "Verify your e-mail address" in unverified.json()["error_description"]
    assert verified.status_code == 200


def test_a_new_address_needs_the_password_and_is_verified_anew(
    client: ApiClient, smtp: SmtpServer
) -> None:
    email, token = client.new_user()
    client.http.post("/auth/verify-email", json={"token": verify_token(smtp, email)})
    headers = bearer(token["access_token"])
    new = unique_email("moved")
    missing = client.http.patch("/users/me", json={"email": new}, headers=headers)
    wrong = client.http.patch(
        "/users/me", json={"email": new, "current_password": "nope"}, headers=headers
    )
    moved = client.http.patch(
        "/users/me", json={"email": new, "current_password": PASSWORD}, headers=headers
    )
    assert missing.status_code == 422
    assert wrong.status_code == 400
    assert moved.status_code == 200
    assert moved.json()["email"] == new and moved.json()["email_verified"] is False
    smtp.wait_for_mail(email, "address was changed")
    assert (
        client.http.post("/auth/verify-email", json={"token": verify_token(smtp, new)}).status_code
        == 204
    )


@pytest.mark.skipif(BACKEND != "postgres", reason="two workers share a server: PostgreSQL pass")
def test_two_workers_deliver_each_message_exactly_once(
    postgres_server: PostgresServer | None, smtp: SmtpServer, tmp_path: Path
) -> None:
    database_url = fresh_database_url(tmp_path)
    env = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PASSWORD_HASH_ROUNDS": "4",
        "REGISTRATION_LIMIT_PER_ADDRESS": "100000/hour",
        "SMTP_URL": smtp.url,
        "MAIL_POLL_SECONDS": "0.02",  # both senders poll all the time: they compete
    }
    emails = [unique_email("twice") for _ in range(40)]
    with (
        UvicornServer(env, workers=2, cwd=tmp_path) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):

        def register(email: str) -> int:
            body = {"email": email, "password": PASSWORD}
            return http.post("/auth/register", json=body).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(register, emails)) == {201}
        settings = make_settings(tmp_path, DATABASE_URL=database_url)
        unsent = "SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL"
        wait_for(lambda: execute_sql(settings, unsent)[0][0] == 0, "every message sent")
    # Marked sent, so never sent again: what the server holds now is final.
    assert Counter(str(m["To"]) for m in smtp.received()) == dict.fromkeys(emails, 1)


def test_a_message_is_marked_failed_after_the_last_try(tmp_path: Path, smtp: SmtpServer) -> None:
    smtp.stop()
    settings = mail_settings(tmp_path, smtp, MAIL_MAX_ATTEMPTS=2)
    with TestClient(create_app(settings)) as http:
        email, _ = ApiClient(http).new_user()
        state = "SELECT attempts, sent_at, failed_at FROM mail_outbox WHERE recipient = :email"
        wait_for(
            lambda: execute_sql(settings, state, email=email)[0][2] is not None,
            "the message to be marked failed",
        )
    attempts, sent_at, _ = execute_sql(settings, state, email=email)[0]
    assert (attempts, sent_at) == (2, None)


class DropsOneCancellation(MailSender):
    """Sends nothing; drops the first cancellation, as asyncio.wait_for (inside aiosmtplib) does
    on Python 3.11 when it lands as the awaited call completes (CPython gh-86296)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dropped = False
        self.delivering = asyncio.Event()

    async def deliver_due(self) -> int:
        self.delivering.set()
        try:
            await asyncio.sleep(60)  # a send in progress, which the cancellation interrupts
        except asyncio.CancelledError:
            if self.dropped:
                raise
            self.dropped = True
        return 0


def test_shutdown_ends_the_sender_even_when_a_cancellation_is_dropped(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    sender = DropsOneCancellation(
        open_database(settings.DATABASE_URL, settings.database_options),
        FileTransport(tmp_path),
        mail_from=settings.MAIL_FROM,
        link_key=signing_secret(settings),
        max_attempts=1,
        retry_seconds=1,
        poll_seconds=3600,  # after the dropped cancellation, the loop would sleep on
        lease=timedelta(minutes=1),
    )

    ended = threading.Event()

    async def lifespan() -> None:
        async with running(sender):
            await sender.delivering.wait()
        ended.set()

    # In a thread, so that a hang (what this guards against) becomes a failure.
    threading.Thread(target=asyncio.run, args=(lifespan(),), daemon=True).start()
    assert ended.wait(timeout=60), "the shutdown still waits on the sender"
    assert sender.dropped
