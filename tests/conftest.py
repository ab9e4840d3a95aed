import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Importing api.main builds the module-level app from the environment: give it a key so the
# import never writes a development key file into the working tree.
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(48))

from fastapi.testclient import TestClient

from api.config import Settings
from api.main import create_app
from tests.helpers import ApiClient

TEST_SECRET = secrets.token_urlsafe(48)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "SECRET_KEY": TEST_SECRET,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'stockroom.db'}",
        "PASSWORD_HASH_ROUNDS": 4,
        # Suites register and log in far more than any person; throttle tests set their own.
        "REGISTRATION_LIMIT_PER_ADDRESS": "100000/hour",
        "LOGIN_FAILURE_LIMIT_PER_ADDRESS": "100000/hour",
        "REFRESH_LIMIT_PER_ADDRESS": "100000/hour",
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[ApiClient]:
    with TestClient(create_app(settings)) as test_client:
        yield ApiClient(test_client)
