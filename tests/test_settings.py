import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from api.config import Settings
from api.secret_key import load_or_create_secret

REPO = Path(__file__).resolve().parent.parent


def run_import(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in Settings.model_fields}
    return subprocess.run(
        [sys.executable, "-c", "import api.main"],
        env={**clean, "PYTHONPATH": str(REPO), "PASSWORD_HASH_ROUNDS": "4", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    result = run_import({"ENVIRONMENT": "production", "PASSWORD_HASH_ROUNDS": "12"}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_refuses_a_short_secret_key(tmp_path: Path) -> None:
    result = run_import(
        {"ENVIRONMENT": "production", "SECRET_KEY": "too-short", "PASSWORD_HASH_ROUNDS": "12"},
        tmp_path,
    )
    assert result.returncode != 0
    assert "at least 32 bytes" in result.stderr
    assert "too-short" not in result.stderr


STRONG_KEY = secrets.token_urlsafe(48)
PRODUCTION = {
    "ENVIRONMENT": "production",
    "SECRET_KEY": STRONG_KEY,
    "PASSWORD_HASH_ROUNDS": "12",
    "SMTP_URL": "smtp://mail.example.test:587",
}


@pytest.mark.parametrize(
    "key",
    ["a" * 32, " " * 32, "\t" * 40, "ab" * 24, "0123456789abcd" * 3],
    ids=["one letter", "spaces", "tabs", "two letters", "fourteen characters"],
)
def test_production_serve_refuses_a_key_with_too_little_variety(tmp_path: Path, key: str) -> None:
    """`stockroom serve`, as an operator starts it: a placeholder key of the right length is
    refused with the same clear message as a short one, and never echoed."""
    script = Path(sys.executable).with_name("stockroom")
    clean = {k: v for k, v in os.environ.items() if k not in Settings.model_fields}
    result = subprocess.run(
        [str(script), "serve", "--port", "1"],
        env={**clean, **PRODUCTION, "SECRET_KEY": key},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "SECRET_KEY must be random" in result.stderr
    assert "Traceback" not in result.stderr
    assert key.strip() == "" or key not in result.stderr


def test_production_starts_with_a_strong_key_and_a_mail_server(tmp_path: Path) -> None:
    result = run_import(PRODUCTION, tmp_path)
    assert result.returncode == 0, result.stderr


def test_production_refuses_to_start_without_a_mail_server(tmp_path: Path) -> None:
    result = run_import({**PRODUCTION, "SMTP_URL": ""}, tmp_path)
    assert result.returncode != 0
    assert "SMTP_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_smtp_url_of_another_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="SMTP_URL must start with"):
        Settings(SMTP_URL="http://mail.example.test")


def test_production_refuses_a_hash_cost_under_12(tmp_path: Path) -> None:
    result = run_import(
        {"ENVIRONMENT": "production", "SECRET_KEY": STRONG_KEY, "PASSWORD_HASH_ROUNDS": "11"},
        tmp_path,
    )
    assert result.returncode != 0
    assert "PASSWORD_HASH_ROUNDS must be at least 12" in result.stderr
    assert "Traceback" not in result.stderr


def test_development_accepts_a_low_hash_cost_for_tests(tmp_path: Path) -> None:
    result = run_import({"SECRET_KEY": STRONG_KEY, "PASSWORD_HASH_ROUNDS": "4"}, tmp_path)
    assert result.returncode == 0, result.stderr


START_APP = (
    "from fastapi.testclient import TestClient; import api.main\n"
    "with TestClient(api.main.app): pass"
)


def run_start(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The app started (its lifespan run) and stopped, in a process of its own."""
    clean = {k: v for k, v in os.environ.items() if k not in Settings.model_fields}
    return subprocess.run(
        [sys.executable, "-c", START_APP],
        env={**clean, "PYTHONPATH": str(REPO), "PASSWORD_HASH_ROUNDS": "4", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_importing_the_app_writes_nothing(tmp_path: Path) -> None:
    assert run_import({}, tmp_path).returncode == 0
    assert list(tmp_path.iterdir()) == []


def test_development_key_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    assert run_start({}, tmp_path).returncode == 0
    key_file = tmp_path / ".stockroom-secret-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = key_file.read_text()
    assert len(first) >= 32
    result = run_start({}, tmp_path)
    assert key_file.read_text() == first
    assert first not in result.stderr + result.stdout


def test_concurrent_workers_agree_on_one_development_key(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: load_or_create_secret(path), range(8)))
    assert len(keys) == 1
    assert not list(tmp_path.glob("*.tmp"))


def test_access_token_lifetime_is_capped_at_a_day() -> None:
    with pytest.raises(ValueError, match="ACCESS_TOKEN_EXPIRE_MINUTES"):
        Settings(ACCESS_TOKEN_EXPIRE_MINUTES=1441)
    assert Settings().ACCESS_TOKEN_EXPIRE_MINUTES == 15


@pytest.mark.parametrize(
    "raw",
    ["https://a.example,http://localhost:5173", '["https://a.example", "http://localhost:5173"]'],
)
def test_cors_origins_accept_comma_lists_and_json(
    raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORS_ORIGINS", raw)
    assert Settings().CORS_ORIGINS == ["https://a.example", "http://localhost:5173"]


def test_cors_wildcard_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "*")
    with pytest.raises(ValueError, match="exact origins"):
        Settings()
