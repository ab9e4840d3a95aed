"""What the app builds when it starts and closes when it stops: the state every request uses.

Keys (and the development key file), the database, the throttle and the mail sender are made
here, in the lifespan, never at import: importing `api.main` reads the environment and writes
nothing.
"""

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from api.config import Settings
from api.cursors import CursorCodec
from api.drain import Drain
from api.mailer import BATCH, FileTransport, MailSender, SmtpTransport, Transport, running
from api.pruner import pruning
from api.secret_key import signing_keys, signing_secret
from api.state import AppState, set_state
from api.throttling import Throttle
from auth.config import AuthConfig, MailLinks
from auth.passwords import PasswordHasher
from auth.tokens import TokenCodec
from migrations import upgrade_to_head
from models.connect import open_database
from models.database import Database

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def build_auth_config(settings: Settings, secret: str) -> AuthConfig:
    return AuthConfig(
        passwords=PasswordHasher(rounds=settings.PASSWORD_HASH_ROUNDS),
        tokens=TokenCodec(
            signing_keys(settings, secret), access_ttl_seconds=settings.access_ttl_seconds
        ),
        session_lifetime=timedelta(days=settings.SESSION_LIFETIME_DAYS),
        session_idle_timeout=timedelta(days=settings.SESSION_IDLE_TIMEOUT_DAYS),
        links=MailLinks(
            app_url=settings.PUBLIC_APP_URL,
            key=secret,
            reset_ttl=timedelta(minutes=settings.PASSWORD_RESET_TOKEN_MINUTES),
            verify_ttl=timedelta(hours=settings.EMAIL_VERIFY_TOKEN_HOURS),
        ),
        require_verified_email=settings.REQUIRE_VERIFIED_EMAIL,
        refresh_reuse_grace=timedelta(seconds=settings.REFRESH_REUSE_GRACE_SECONDS),
    )


def build_mail_sender(settings: Settings, db: Database, secret: str) -> MailSender:
    transport: Transport
    if settings.SMTP_URL is not None:
        transport = SmtpTransport(
            settings.SMTP_URL.get_secret_value(), settings.SMTP_TIMEOUT_SECONDS
        )
    else:
        transport = FileTransport(settings.MAIL_DIR)
    return MailSender(
        db,
        transport,
        mail_from=settings.MAIL_FROM,
        link_key=secret,
        max_attempts=settings.MAIL_MAX_ATTEMPTS,
        retry_seconds=settings.MAIL_RETRY_SECONDS,
        poll_seconds=settings.MAIL_POLL_SECONDS,
        # A batch of sends, each bounded by the SMTP timeout, and a margin.
        lease=timedelta(seconds=BATCH * settings.SMTP_TIMEOUT_SECONDS + 60),
    )


def running_app(settings: Settings, drain: Drain, database: Database | None = None) -> Lifespan:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            db = database
            if db is None:
                await upgrade_to_head(
                    settings.DATABASE_URL, connect_timeout=settings.DB_CONNECT_TIMEOUT_SECONDS
                )
                db = open_database(settings.DATABASE_URL, settings.database_options)
                stack.push_async_callback(db.close)
            secret = signing_secret(settings)
            auth = build_auth_config(settings, secret)
            throttle, cursors = Throttle(settings), CursorCodec(secret)
            set_state(app, AppState(settings, db, auth, throttle, drain, cursors))
            stack.callback(set_state, app, None)
            drain.install()
            # Everything loaded so far lives as long as the process: keep the cyclic garbage
            # collector from re-scanning it, which showed up as latency spikes under load.
            gc.collect()
            gc.freeze()
            await stack.enter_async_context(running(build_mail_sender(settings, db, secret)))
            await stack.enter_async_context(pruning(db))
            yield

    return lifespan
