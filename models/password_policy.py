"""NIST SP 800-63B §5.1.1.2: length bounds, no known-breached passwords, not the e-mail itself."""

import gzip
from functools import cache
from importlib.resources import files

PASSWORD_MIN_LENGTH = 8
# NIST asks for at least 64; far more than 1024 is only a way to make the server burn CPU.
PASSWORD_MAX_LENGTH = 1024


@cache
def common_passwords() -> frozenset[str]:
    data = files("models").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().split())


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why this password is refused, in words a person can act on; None if it is fine."""
    if password.strip().lower() in common_passwords():
        return "this password is on a list of commonly used passwords; choose another"
    if email is not None and password.strip().lower() == email.strip().lower():
        return "the password must not be the e-mail address"
    return None
