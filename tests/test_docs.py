"""The interactive docs are served from the API itself: no CDN, no other host."""

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from api.config import Settings
from api.main import create_app
from tests.helpers import ApiClient

EXPECTED_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


class _AssetLinks(HTMLParser):
    """Collects the URLs a page loads: <script src>, <link href>, <img src>."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)


def asset_urls(html: str) -> list[str]:
    parser = _AssetLinks()
    parser.feed(html)
    return parser.urls


@pytest.fixture
def docs_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_local_assets(docs_client: TestClient, page: str) -> None:
    response = docs_client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "http://" not in html
    assert "https://" not in html
    assert "//" not in html.replace("://", "")  # no protocol-relative URL either
    urls = asset_urls(html)
    assert urls, "the page loads no asset"
    for url in urls:
        assert url.startswith("/"), url
        asset = docs_client.get(url)
        assert asset.status_code == 200, url
        suffix = url[url.rindex(".") :]
        assert asset.headers["content-type"].startswith(EXPECTED_TYPES[suffix]), url


def test_swagger_page_wires_openapi_and_oauth2_redirect(docs_client: TestClient) -> None:
    html = docs_client.get("/docs").text
    assert "url: '/openapi.json'" in html
    assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'" in html
    assert '"persistAuthorization": false' in html
    assert '"validatorUrl": null' in html


def test_oauth2_redirect_page(docs_client: TestClient) -> None:
    response = docs_client.get("/docs/oauth2-redirect")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "swaggerUIRedirectOauth2" in response.text


def test_bundled_swagger_ui_is_version_5(docs_client: TestClient) -> None:
    bundle = docs_client.get("/docs/static/swagger/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    match = re.search(r'PACKAGE_VERSION:"(\d+)\.(\d+)\.(\d+)"', bundle.text)
    assert match, "no Swagger UI version in the bundle"
    assert int(match.group(1)) == 5


def test_redoc_logo_is_served_locally(docs_client: TestClient) -> None:
    # The packaged ReDoc fetches its logo from the ReDoc page's own path.
    logo = docs_client.get("/redoc/logo-mini.svg")
    assert logo.status_code == 200
    assert logo.headers["content-type"].startswith("image/svg+xml")


def test_docs_routes_stay_out_of_the_schema(docs_client: TestClient) -> None:
    paths = docs_client.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith(("/docs", "/redoc"))]


def test_the_docs_accept_a_personal_access_token_too(client: ApiClient) -> None:
    spec = client.http.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["PersonalAccessToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A personal access token (`stk_pat_...`) from `POST /users/me/tokens`.",
    }
    security = spec["paths"]["/products"]["get"]["security"]
    assert {"PersonalAccessToken": ["products:read"]} in security
    assert any("OAuth2PasswordBearer" in requirement for requirement in security)
    # Account routes need a password login: the docs do not offer a token there.
    account = spec["paths"]["/users/me/password"]["post"]["security"]
    assert account == [{"OAuth2PasswordBearer": ["account"]}]


def test_the_key_set_is_documented(client: ApiClient) -> None:
    spec = client.http.get("/openapi.json").json()
    assert "/.well-known/jwks.json" in spec["paths"]
