from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from api.config import Settings, load_settings
from api.docs import complete_openapi, install_docs
from api.drain import Drain
from api.errors import install_error_handlers
from api.lifespan import running_app
from api.middleware import (
    CompleteRequestMiddleware,
    ConcurrencyLimitMiddleware,
    DrainMiddleware,
    SecurityHeadersMiddleware,
)
from api.routes import auth, health, keys, problems, products, recovery, tokens, users
from auth.deps import PERSONAL_TOKEN_SCHEME
from auth.personal_tokens import PRODUCT_SCOPES
from models.database import Database

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


def operation_id(route: APIRoute) -> str:
    return route.name


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    """The app, ready to serve once its lifespan has run. `database` replaces the one that
    `DATABASE_URL` names, for every request (the caller opens and closes it)."""
    settings = settings or load_settings()
    drain = Drain(settings.SHUTDOWN_DRAIN_SECONDS)
    app = FastAPI(
        title="Stockroom",
        version="0.1.0",
        description="Products that belong to the users who create them. Log in with **Authorize**.",
        lifespan=running_app(settings, drain, database),
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
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-Requested-With",
                "If-Match",
                "If-None-Match",
                "Idempotency-Key",
            ],
            expose_headers=[
                "Location",
                "Retry-After",
                "WWW-Authenticate",
                "ETag",
                "Link",
                "Idempotent-Replayed",
            ],
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
