"""Test settings: the project's, with password hashing that costs nothing.

PBKDF2's million iterations per ``create_user`` (about 1.6 s here) buy nothing in tests; the
production hasher list is checked on its own in ``tests/unit/mcpdemo/test_settings.py``.
"""

from __future__ import annotations

from mcpdemo.settings import *  # noqa: F403

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "oauthapp.hashers.ClientSecretHasher",  # DOT's CLIENT_SECRET_HASHER names it
]
