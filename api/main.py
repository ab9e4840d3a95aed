import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from api.config import Settings, load_settings
from api.docs import complete_openapi, install_docs
from api.drain import Drain
from api.errors import install_error_handlers
from api.mailer import BATCH, FileTransport, MailSender, SmtpTransport, Transport, running
from api.middleware import (
    CompleteRequestMiddleware,
    ConcurrencyLimitMiddleware,
    DrainMiddleware,
    SecurityHeadersMiddleware,
)
from api.routes import auth, health, keys, problems, products, recovery, tokens, users
from api.throttling import Throttle
from auth.config import AuthConfig, MailLinks
from auth.deps import PERSONAL_TOKEN_SCHEME
from auth.passwords import PasswordHasher
from auth.personal_tokens import PRODUCT_SCOPES
from auth.tokens import TokenCodec
from migrations import upgrade_to_head
from models.database import Database
from models.deps import provide

OPENAPI_TAGS = [
    {
        "name": "auth",
        "description": "Register, log in (OAuth2 token endpoint), log out, links by mail.",
    },
    {"name": "users", "description": "Your account: profile, password, login sessions."},
    {"name": "tokens", "description": "Personal access tokens for scripts."},
    {"name": "products", "description": "Your products."},
    {"name": "health", "description": "For load balancers."},
    {"name": "keys", "description": "Public keys that verify access tokens."},
    {"name": "problems", "description": "What each error's `type` means (RFC 9457)."},
]


def build_auth_config(settings: Settings) -> AuthConfig:
    return AuthConfig(
        passwords=PasswordHasher(rounds=settings.PASSWORD_HASH_ROUNDS),
        tokens=TokenCodec(settings.signing_keys, access_ttl_seconds=settings.access_ttl_seconds),
        session_lifetime=timedelta(days=settings.SESSION_LIFETIME_DAYS),
        session_idle_timeout=timedelta(days=settings.SESSION_IDLE_TIMEOUT_DAYS),
        links=MailLinks(
            app_url=settings.PUBLIC_APP_URL,
            key=settings.signing_secret,
            reset_ttl=timedelta(minutes=settings.PASSWORD_RESET_TOKEN_MINUTES),
            verify_ttl=timedelta(hours=settings.EMAIL_VERIFY_TOKEN_HOURS),
        ),
        require_verified_email=settings.REQUIRE_VERIFIED_EMAIL,
        refresh_reuse_grace=timedelta(seconds=settings.REFRESH_REUSE_GRACE_SECONDS),
    )


def build_mail_sender(settings: Settings, db: Database) -> MailSender:
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
        link_key=settings.signing_secret,
        max_attempts=settings.MAIL_MAX_ATTEMPTS,
        retry_seconds=settings.MAIL_RETRY_SECONDS,
        poll_seconds=settings.MAIL_POLL_SECONDS,
        # A batch of sends, each bounded by the SMTP timeout, and a margin.
        lease=timedelta(seconds=BATCH * settings.SMTP_TIMEOUT_SECONDS + 60),
    )


def operation_id(route: APIRoute) -> str:
    return route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await upgrade_to_head(
            settings.DATABASE_URL, connect_timeout=settings.DB_CONNECT_TIMEOUT_SECONDS
        )
        database = settings.open_database()
        provide(app, Database, database)
        drain.install()
        # Everything loaded so far lives as long as the process: keep the cyclic garbage
        # collector from re-scanning it, which showed up as latency spikes under load.
        gc.collect()
        gc.freeze()
        try:
            async with running(build_mail_sender(settings, database)):
                yield
        finally:
            await database.close()

    app = FastAPI(
        title="Stockroom",
        version="0.1.0",
        description="Products that belong to the users who create them. Log in with **Authorize**.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # The order the docs show, whatever the order routes are matched in.
        openapi_tags=OPENAPI_TAGS,
        # Starlette's redirect to the other spelling builds its Location from the request's
        # Host header; a path we do not serve is simply a 404.
        redirect_slashes=False,
        # Operation ids are the route functions' names (unique here), so a generated client's
        # names are ours, not FastAPI's path-and-method spelling.
        generate_unique_id_function=operation_id,
    )
    drain = Drain(settings.SHUTDOWN_DRAIN_SECONDS)
    provide(app, Drain, drain)
    provide(app, Settings, settings)
    provide(app, AuthConfig, build_auth_config(settings))
    provide(app, Throttle, Throttle(settings.throttle_limits, settings.REDIS_URL))
    install_error_handlers(app)
    # The last added is the outermost: security headers on every answer, CORS headers even on
    # an early answer (431, 413, 408, a busy 503), and a request takes a concurrency slot only
    # once it has fully arrived.
    app.add_middleware(
        ConcurrencyLimitMiddleware,
        limit=settings.MAX_CONCURRENT_REQUESTS,
        queue_seconds=settings.MAX_QUEUE_SECONDS,
    )
    app.add_middleware(
        CompleteRequestMiddleware,
        max_header_bytes=settings.MAX_HEADER_BYTES,
        max_body_bytes=settings.MAX_BODY_BYTES,
        body_timeout=settings.REQUEST_BODY_TIMEOUT_SECONDS,
    )
    if settings.CORS_ORIGINS:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.CORS_ORIGINS,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Requested-With"],
            expose_headers=["Location", "Retry-After", "WWW-Authenticate"],
            max_age=600,
        )
    app.add_middleware(DrainMiddleware, drain=drain)
    app.add_middleware(SecurityHeadersMiddleware)
    # Starlette tries routes in order: the busiest first (no two paths overlap), so a product
    # read does not test two dozen account routes, and the docs' mounts last.
    for router in (
        products.router,
        users.router,
        tokens.router,
        auth.token_router,
        auth.router,
        recovery.router,
    ):
        app.include_router(router)
    app.include_router(health.router)
    app.include_router(keys.router)
    app.include_router(problems.router)
    complete_openapi(app, PERSONAL_TOKEN_SCHEME, set(PRODUCT_SCOPES))
    install_docs(app)
    return app


app = create_app()
