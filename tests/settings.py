"""Test settings: the project's, with password hashing that costs nothing and SQLite in a file.

PBKDF2's million iterations per ``create_user`` (about 1.6 s here) buy nothing in tests; the
production hasher list is checked on its own in ``tests/unit/mcpdemo/test_settings.py``.
"""

from __future__ import annotations

import os

from mcpdemo.settings import *  # noqa: F403
from mcpdemo.settings import BASE_DIR, DATABASES

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "oauthapp.hashers.ClientSecretHasher",  # DOT's CLIENT_SECRET_HASHER names it
]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, as in production (WAL, and the token lookup's own reader on the event loop);
    # Django's default test database is in memory, private to each connection.
    (BASE_DIR / "var").mkdir(exist_ok=True)
    # One file per pytest-xdist worker (pytest-django gives PostgreSQL's test databases a suffix itself).
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test{'-' + worker if worker else ''}.sqlite3")}
