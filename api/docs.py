"""Self-hosted Swagger UI and ReDoc: the interactive docs work on a machine without internet.

FastAPI's built-in /docs and /redoc load their JavaScript and CSS from a CDN. The assets here
come from the `fastapi-standalone-docs` package, which ships the files of npm's
`swagger-ui-dist` (Swagger UI 5, renders OpenAPI 3.1) and `redoc` unchanged, with their
licences. Only its data files are used (through Starlette's `StaticFiles(packages=...)`), not
its `StandaloneDocs` class, which patches `fastapi.applications` globally.

The app must be created with `docs_url=None, redoc_url=None` for these routes to take over.
"""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.responses import problem_media_type

ASSETS_PACKAGE = "fastapi_standalone_docs"
DOCS_URL = "/docs"
REDOC_URL = "/redoc"
# Everything the package ships (swagger/, redoc/, fastapi/ with each project's LICENSE).
STATIC_URL = "/docs/static"
DEFAULT_OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"

SWAGGER_JS = f"{STATIC_URL}/swagger/swagger-ui-bundle.js"
SWAGGER_CSS = f"{STATIC_URL}/swagger/swagger-ui.css"
FAVICON = f"{STATIC_URL}/fastapi/favicon.png"
# The packaged ReDoc loads its logo from `location.pathname + "/logo-mini.svg"`, so its files
# are also served under the ReDoc page's own URL.
REDOC_JS = f"{REDOC_URL}/redoc.standalone.js"

SWAGGER_UI_PARAMETERS: dict[str, Any] = {
    # Keep the bearer token in memory only: a reload logs the docs user out.
    "persistAuthorization": False,
    # No call to the public validator service (and no badge linking to it).
    "validatorUrl": None,
    "displayRequestDuration": True,
}


def complete_openapi(app: FastAPI, token_scheme: dict[str, Any], token_scopes: set[str]) -> None:
    """What FastAPI's generated document cannot say by itself, added once when it is built:
    personal access tokens as a second way to call every route they may call (those whose
    OAuth2 scopes are all in `token_scopes`), so the Authorize dialog takes one too; and errors
    as the problem documents they are (`application/problem+json`)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()  # cached by FastAPI; completed here once
        schema["components"]["securitySchemes"]["PersonalAccessToken"] = token_scheme
        for operations in schema["paths"].values():
            for operation in operations.values():
                for requirement in list(operation.get("security", [])):
                    needed = requirement.get("OAuth2PasswordBearer")
                    if needed is not None and set(needed) <= token_scopes:
                        operation["security"].append({"PersonalAccessToken": needed})
        problem_media_type(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_docs(app: FastAPI) -> None:
    """Serve Swagger UI at /docs (with its OAuth2 redirect page) and ReDoc at /redoc."""
    openapi_url = app.openapi_url
    if openapi_url is None:
        return
    redirect_url = app.swagger_ui_oauth2_redirect_url or DEFAULT_OAUTH2_REDIRECT_URL
    parameters = {**SWAGGER_UI_PARAMETERS, **(app.swagger_ui_parameters or {})}

    app.mount(
        STATIC_URL,
        StaticFiles(packages=[(ASSETS_PACKAGE, "static")]),
        name="docs-static",
    )
    app.mount(
        REDOC_URL,
        StaticFiles(packages=[(ASSETS_PACKAGE, "static/redoc")]),
        name="redoc-static",
    )

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui_html(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=root + SWAGGER_JS,
            swagger_css_url=root + SWAGGER_CSS,
            swagger_favicon_url=root + FAVICON,
            oauth2_redirect_url=root + redirect_url,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=parameters,
        )

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc_html(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=root + REDOC_JS,
            redoc_favicon_url=root + FAVICON,
            with_google_fonts=False,
        )
