"""Published verification keys: a token checked by an independent library from the JWKS alone."""

import secrets
from collections.abc import Sequence
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from api.config import Settings
from tests.databases import fresh_database_url
from tests.helpers import PASSWORD, ApiClient, bearer, unique_email
from tests.services import UvicornServer

ISSUER, AUDIENCE = "stockroom", "stockroom-api"


def write_key_pair(directory: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    private = directory / f"{name}.pem"
    public = directory / f"{name}.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


class Fleet:
    """One database, restarted with different keys, as an operator rotates them."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.env = {
            "DATABASE_URL": fresh_database_url(tmp_path),
            "SECRET_KEY": secrets.token_urlsafe(48),
            "PASSWORD_HASH_ROUNDS": "4",
            "JWT_ALGORITHM": "ES256",
        }

    def serve(self, private: Path, previous: Sequence[Path] = ()) -> UvicornServer:
        env = {
            **self.env,
            "JWT_PRIVATE_KEY_FILE": str(private),
            "JWT_PREVIOUS_PUBLIC_KEY_FILES": ",".join(map(str, previous)),
        }
        return UvicornServer(env, cwd=self.tmp_path)


def login(base_url: str) -> str:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        email = unique_email()
        http.post("/auth/register", json={"email": email, "password": PASSWORD})
        token = http.post("/auth/token", data={"username": email, "password": PASSWORD})
        access: str = token.json()["access_token"]
        return access


def verify_with_pyjwt(base_url: str, token: str) -> dict[str, object]:
    keys = jwt.PyJWKClient(f"{base_url}/.well-known/jwks.json", cache_keys=False)
    key = keys.get_signing_key_from_jwt(token)
    claims: dict[str, object] = jwt.decode(
        token, key.key, algorithms=["ES256"], audience=AUDIENCE, issuer=ISSUER
    )
    return claims


@pytest.fixture
def fleet(postgres_server: object, tmp_path: Path) -> Fleet:
    return Fleet(tmp_path)


def test_pyjwt_verifies_a_live_token_from_the_jwks_url_alone(fleet: Fleet, tmp_path: Path) -> None:
    private, _ = write_key_pair(tmp_path, "current")
    with fleet.serve(private) as server:
        token = login(server.base_url)
        claims = verify_with_pyjwt(server.base_url, token)
        jwks = httpx.get(f"{server.base_url}/.well-known/jwks.json")
    assert claims["scope"] == "account products:read products:write"
    assert jwks.headers["cache-control"] == "public, max-age=300"
    (key,) = jwks.json()["keys"]
    assert key["kty"] == "EC" and key["alg"] == "ES256" and key["use"] == "sig"
    assert "d" not in key  # the private part is never published


def test_after_a_rotation_the_previous_key_verifies_until_it_is_removed(
    fleet: Fleet, tmp_path: Path
) -> None:
    old_private, old_public = write_key_pair(tmp_path, "old")
    new_private, _ = write_key_pair(tmp_path, "new")
    with fleet.serve(old_private) as server:
        old_token = login(server.base_url)
    with fleet.serve(new_private, previous=[old_public]) as server:
        during = httpx.get(f"{server.base_url}/users/me", headers=bearer(old_token))
        assert verify_with_pyjwt(server.base_url, old_token)["sub"]
        published = httpx.get(f"{server.base_url}/.well-known/jwks.json").json()["keys"]
    with fleet.serve(new_private) as server:
        after = httpx.get(f"{server.base_url}/users/me", headers=bearer(old_token))
        with pytest.raises(jwt.PyJWKClientError):
            verify_with_pyjwt(server.base_url, old_token)
    assert during.status_code == 200
    assert len(published) == 2
    assert after.status_code == 401
    assert after.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_under_hs256_the_key_set_is_empty(client: ApiClient) -> None:
    response = client.http.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.json() == {"keys": []}


def test_an_asymmetric_algorithm_without_a_private_key_is_refused() -> None:
    with pytest.raises(ValueError, match="needs its private key"):
        Settings(SECRET_KEY="k" * 48, JWT_ALGORITHM="ES256")


def test_a_key_of_the_wrong_kind_is_refused(tmp_path: Path) -> None:
    private, _ = write_key_pair(tmp_path, "ec")
    with pytest.raises(ValueError, match="not a RS256 key"):
        Settings(SECRET_KEY="k" * 48, JWT_ALGORITHM="RS256", JWT_PRIVATE_KEY_FILE=private)


def test_a_short_rsa_key_is_refused(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (on purpose)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(ValueError, match="at least 2048 bits"):
        Settings(SECRET_KEY="k" * 48, JWT_ALGORITHM="RS256", JWT_PRIVATE_KEY=pem)
