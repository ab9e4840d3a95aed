from fastapi import status

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    """An RFC 6749 §5.2 error from the token endpoint; `api` renders it as JSON."""

    def __init__(
        self,
        error: str,
        description: str,
        status_code: int = status.HTTP_400_BAD_REQUEST,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status_code = status_code
        self.headers = headers or {}


def invalid_grant() -> OAuthError:
    # One message for an unknown e-mail, a wrong password and a disabled account: no enumeration.
    return OAuthError("invalid_grant", "Incorrect e-mail or password.")


class InvalidLink(Exception):
    """A link from a mail that is unknown, used, expired, or no longer matches the account."""


class WrongPassword(Exception):
    """The current password sent to confirm an account change is not the account's."""


class CredentialsChanged(Exception):
    """The password changed (a reset, another change) while this request was checking it."""


class AlreadyVerified(Exception):
    """A new verification link was asked for an address that is verified already."""


class UnverifiedEmail(OAuthError):
    """The password was right, but the account must verify its address before logging in."""

    def __init__(self) -> None:
        super().__init__(
            "invalid_grant",
            "Verify your e-mail address first: follow the link in the mail we sent, or ask "
            "for a new one.",
        )
