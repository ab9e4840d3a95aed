"""NIST SP 800-63B §5.1.1.2: length bounds, no known-breached passwords, not the e-mail itself.

Lengths are checked where the body is parsed (`schemas.Password`); `check_password` applies the
rest wherever a password is set, since one rule needs the account's e-mail.
"""

import gzip
from functools import cache
from importlib.resources import files

PASSWORD_MIN_LENGTH = 8
# NIST asks for at least 64; far more than 1024 is only a way to make the server burn CPU.
PASSWORD_MAX_LENGTH = 1024


class PasswordRejected(ValueError):
    """A password the policy refuses; `field` is the request field that carried it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


@cache
def common_passwords() -> frozenset[str]:
    data = files("models").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().split())


def check_password(password: str, *, email: str, field: str) -> None:
    """Raise PasswordRejected, in words a person can act on, if the policy refuses it."""
    candidate = password.strip().lower()
    if candidate in common_passwords():
        raise PasswordRejected(
            field, "this password is on a list of commonly used passwords; choose another"
        )
    if candidate == email:  # stored and compared normalised (`schemas.normalise_email`)
        raise PasswordRejected(field, "the password must not be the e-mail address")
