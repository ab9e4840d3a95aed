"""Passwords, tokens, login sessions and the current-user dependency."""
