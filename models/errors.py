"""What the data layer raises; `api/errors.py` turns each into one HTTP answer."""


class DatabaseUnavailable(Exception):
    """The database is unreachable, restarting or out of connections, or no pooled connection
    was free in time: a reason to retry shortly, not a bug."""


class ConstraintViolation(Exception):
    """A write broke a unique or foreign-key constraint; repositories say which one it was."""


class EmailTaken(Exception):
    """Another account already uses this e-mail address."""
