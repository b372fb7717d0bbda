"""Migrations: from an empty database to the current schema, and again without change."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.live_server import ROOT, fresh_database

pytestmark = pytest.mark.e2e


def _manage(database_url: str, *args: str) -> str:
    env = {**os.environ, "DJANGO_DEBUG": "1", "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout


def test_migrate_from_empty_then_again_is_a_no_op(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as database_url:
        first = _manage(database_url, "migrate", "--noinput")
        second = _manage(database_url, "migrate", "--noinput")
        unapplied = _manage(database_url, "showmigrations", "--plan")

    assert "Applying oauthapp.0001_initial... OK" in first
    assert "Applying oauth2_provider.0001_initial... OK" in first
    assert first.index("oauthapp.0001_initial") < first.index("oauth2_provider.0001_initial")
    assert "No migrations to apply." in second
    assert "[ ]" not in unapplied


def test_models_and_migrations_agree(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as database_url:
        assert "No changes detected" in _manage(database_url, "makemigrations", "--check", "--dry-run")
