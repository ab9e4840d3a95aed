"""The mails the account flows send, as outbox rows. Links point at the React app."""

from html import escape

from models.outbox import Mail

# Stands for the link's secret until the sender derives it (mail_tokens.py).
TOKEN = "{token}"  # noqa: S105


def _link(app_url: str, path: str) -> str:
    return f"{app_url}{path}?token={TOKEN}"


def _html(paragraphs: list[str], link: str | None = None, label: str = "") -> str:
    body = "".join(f"<p>{escape(text)}</p>" for text in paragraphs)
    if link is not None:
        body += f'<p><a href="{escape(link)}">{escape(label)}</a></p>'
    return f"<!doctype html><html><body>{body}</body></html>"


def password_reset(email: str, app_url: str, nonce: str, minutes: int) -> Mail:
    link = _link(app_url, "/reset-password")
    intro = "Someone asked to reset the password of your Stockroom account."
    after = (
        f"The link works once, for {minutes} minutes. If you did not ask for it, ignore this "
        "mail: your password stays as it is."
    )
    return Mail(
        recipient=email,
        subject="Reset your Stockroom password",
        body_text=f"{intro}\n\nChoose a new password here:\n{link}\n\n{after}\n",
        body_html=_html([intro, after], link, "Choose a new password"),
        link_nonce=nonce,
    )


def verify_email(email: str, app_url: str, nonce: str, hours: int) -> Mail:
    link = _link(app_url, "/verify-email")
    intro = f"Confirm that {email} is your address for Stockroom."
    after = f"The link works once, for {hours} hours."
    return Mail(
        recipient=email,
        subject="Confirm your e-mail address for Stockroom",
        body_text=f"{intro}\n\nConfirm it here:\n{link}\n\n{after}\n",
        body_html=_html([intro, after], link, "Confirm my address"),
        link_nonce=nonce,
    )


def password_changed(email: str) -> Mail:
    text = (
        "The password of your Stockroom account was just changed. If that was not you, reset "
        "it now with 'Forgot your password?' on the login page."
    )
    return Mail(
        recipient=email,
        subject="Your Stockroom password was changed",
        body_text=text + "\n",
        body_html=_html([text]),
    )


def email_changed(old_email: str, new_email: str) -> Mail:
    text = (
        f"The e-mail address of your Stockroom account was changed from {old_email} to "
        f"{new_email}. If that was not you, reset your password now."
    )
    return Mail(
        recipient=old_email,
        subject="Your Stockroom e-mail address was changed",
        body_text=text + "\n",
        body_html=_html([text]),
    )
