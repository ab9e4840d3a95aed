"""The keys that sign tokens and mail links, from the settings; and the development key, made
once in a 0600 file and shared by every worker when SECRET_KEY is not set (production refuses
to start without one: api/config/). Called in the app's lifespan, never at import.
"""

import logging
import os
import secrets
from pathlib import Path

from api.config.tokens import TokenSettings
from auth.keys import HMAC_ALGORITHM, SigningKeys
from auth.tokens import MIN_SECRET_BYTES

logger = logging.getLogger("stockroom")


def signing_secret(settings: TokenSettings) -> str:
    """SECRET_KEY, or the development key: what signs HS256 tokens and derives mail links."""
    if settings.SECRET_KEY is not None:
        return settings.SECRET_KEY.get_secret_value()
    return load_or_create_secret(settings.SECRET_KEY_FILE)


def signing_keys(settings: TokenSettings, secret: str) -> SigningKeys:
    if settings.JWT_ALGORITHM == HMAC_ALGORITHM:
        previous = [key.get_secret_value() for key in settings.PREVIOUS_SECRET_KEYS]
        return SigningKeys.shared_secret(secret, previous)
    return SigningKeys.key_pair(
        settings.JWT_ALGORITHM, settings.private_key_pem(), settings.previous_public_pems()
    )


def load_or_create_secret(path: Path) -> str:
    """A development key made once and shared by restarts and workers through a 0600 file."""
    path = path.resolve()
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # atomic: the first worker wins, the others read its key
            logger.warning("No SECRET_KEY set: generated a development key in %s", path)
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    return _read_secret(path)


def _read_secret(path: Path) -> str:
    secret = path.read_text().strip()
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise SystemExit(f"stockroom: the key in {path} is shorter than {MIN_SECRET_BYTES} bytes")
    return secret
