#!/usr/bin/env python3
"""Print the API's OpenAPI document as JSON (`npm run openapi` writes it to web/openapi.json).

Runs from anywhere: the repository root goes on sys.path. Importing `api.main` builds the app from
the environment, so settings from the caller's shell are dropped (the document must not depend on
them) and a throw-away SECRET_KEY and an in-memory database are set first; nothing is started.
"""

import json
import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from api.config import Settings  # noqa: E402

for name in Settings.model_fields:
    os.environ.pop(name, None)
os.environ["SECRET_KEY"] = secrets.token_urlsafe(36)  # 48 characters, used for nothing
os.environ["DATABASE_URL"] = "sqlite:///:memory:"

from api.main import app  # noqa: E402

print(json.dumps(app.openapi(), indent=2))
