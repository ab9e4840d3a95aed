"""The development signing key: made once, kept in a 0600 file, shared by every worker.

Only for running without SECRET_KEY; production refuses to start without one (api/config.py).
"""

import logging
import os
import secrets
from pathlib import Path

from auth.tokens import MIN_SECRET_BYTES

logger = logging.getLogger("stockroom")


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
