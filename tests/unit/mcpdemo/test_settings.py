"""Production settings: safe defaults, fail fast without secrets, and a clean deploy check."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.live_server import ROOT

PRODUCTION = {
    "DJANGO_SECRET_KEY": "x" * 50 + "production-like-secret-key-for-the-deploy-check",
    "MCPDEMO_PUBLIC_URL": "https://mcp.example.com",
}


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    configuration = ("DJANGO_", "MCPDEMO_", "ALLOWED_HOSTS", "REDIS_URL")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(configuration)}
    clean["MCPDEMO_ENV_FILE"] = ""  # nor the checkout's development .env
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


def test_deploy_check_passes_without_warnings_in_production(tmp_path) -> None:
    # Collected static files, and the hosts whose client metadata documents may be fetched.
    collected = {"DJANGO_STATIC_ROOT": str(tmp_path), "MCPDEMO_CIMD_ALLOWED_HOSTS": "vscode.dev", **PRODUCTION}
    assert _run("manage.py", "collectstatic", "--noinput", "-v0", **collected).returncode == 0

    result = _run("manage.py", "check", "--deploy", "--fail-level", "WARNING", **collected)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_is_off_and_cookies_are_secure_by_default() -> None:
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0, s.ALLOWED_HOSTS)"
    )
    result = _run("-c", code, DJANGO_SETTINGS_MODULE="mcpdemo.settings", **PRODUCTION)

    assert result.stdout.split(None, 4) == ["False", "True", "True", "True", "['mcp.example.com']\n"]


def test_metrics_are_off_unless_enabled() -> None:
    code = "import django; django.setup(); from mcpdemo.conf import conf; print(conf.METRICS_ENABLED)"
    result = _run("-c", code, DJANGO_SETTINGS_MODULE="mcpdemo.settings", **PRODUCTION)

    assert result.stdout.strip() == "False", result.stderr


def test_missing_secret_key_fails_fast() -> None:
    result = _run("manage.py", "check", MCPDEMO_PUBLIC_URL="https://mcp.example.com")

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_missing_public_url_fails_fast_in_production() -> None:
    result = _run("manage.py", "check", DJANGO_SECRET_KEY=PRODUCTION["DJANGO_SECRET_KEY"])

    assert result.returncode != 0
    assert "MCPDEMO_PUBLIC_URL must be set" in result.stderr


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout_and_immediate_transactions(tmp_path) -> None:
    code = (
        "import django; django.setup(); from django.db import connection as c; "
        "cur = c.cursor(); cur.execute('PRAGMA journal_mode'); mode = cur.fetchone()[0]; "
        "cur.execute('PRAGMA busy_timeout'); print(mode, cur.fetchone()[0], c.transaction_mode)"
    )
    result = _run(
        "-c", code, DJANGO_SETTINGS_MODULE="mcpdemo.settings", DJANGO_DEBUG="1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )  # fmt: skip

    assert result.stdout.split() == ["wal", "20000", "IMMEDIATE"], result.stderr


def _settings_line(expression: str, **env: str) -> str:
    code = f"import django; django.setup(); from django.conf import settings as s; print({expression})"
    result = _run("-c", code, DJANGO_SETTINGS_MODULE="mcpdemo.settings", **PRODUCTION, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_redis_url_backs_the_cache_and_leaves_the_mcp_mode_to_its_own_setting() -> None:
    line = _settings_line(
        "s.CACHES['default']['BACKEND'], s.CACHES['default']['LOCATION'], s.MCPDEMO_MCP_STATELESS",
        REDIS_URL="redis://127.0.0.1:6379/3",
    )

    assert line == "django.core.cache.backends.redis.RedisCache redis://127.0.0.1:6379/3 False"


def test_one_worker_without_redis_keeps_stateful_sessions_and_a_local_cache() -> None:
    line = _settings_line("s.CACHES['default']['BACKEND'], s.MCPDEMO_MCP_STATELESS")

    assert line == "django.core.cache.backends.locmem.LocMemCache False"


def test_stateless_mcp_is_chosen_by_its_own_setting() -> None:
    assert _settings_line("s.MCPDEMO_MCP_STATELESS", MCPDEMO_MCP_STATELESS="1") == "True"


def test_database_url_selects_postgresql() -> None:
    line = _settings_line(
        "s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME']",
        DATABASE_URL="postgres://u:p@db.internal:5432/mcp",
    )

    assert line == "django.db.backends.postgresql mcp"


def test_json_log_format_writes_one_object_per_line() -> None:
    code = (
        "import django, json, logging; django.setup(); logging.getLogger('mcpdemo.test').warning('hello %s', 'world')"
    )
    result = _run("-c", code, DJANGO_SETTINGS_MODULE="mcpdemo.settings", LOG_FORMAT="json", **PRODUCTION)

    entry = json.loads(result.stderr.strip().splitlines()[-1])
    assert entry["message"] == "hello world"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "mcpdemo.test"


def test_the_mcp_sdks_per_request_and_session_id_logs_stay_off_even_at_debug() -> None:
    expression = "logging.getLogger('mcp.server.streamable_http').getEffectiveLevel() == logging.WARNING"
    code = f"import django, logging; django.setup(); print({expression})"
    for level in ("INFO", "DEBUG"):
        result = _run("-c", code, DJANGO_SETTINGS_MODULE="mcpdemo.settings", LOG_LEVEL=level, **PRODUCTION)
        assert result.stdout.strip() == "True", (level, result.stderr)


def test_without_collected_static_files_the_deploy_check_says_so(tmp_path) -> None:
    result = _run("manage.py", "check", "--deploy", DJANGO_STATIC_ROOT=str(tmp_path / "none"), **PRODUCTION)

    assert "mcpdemo.W001" in result.stderr + result.stdout


def test_a_development_env_file_fills_in_only_what_the_environment_leaves_unset(tmp_path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DJANGO_DEBUG=1\nDJANGO_SECRET_KEY=from-the-file\nLOG_LEVEL=WARNING\n")
    code = "import django; django.setup(); from django.conf import settings as s; "
    code += "print(s.DEBUG, s.SECRET_KEY, s.LOG_LEVEL)"

    result = _run(
        "-c", code, DJANGO_SETTINGS_MODULE="mcpdemo.settings", MCPDEMO_ENV_FILE=str(env_file), LOG_LEVEL="ERROR"
    )

    assert result.stdout.split() == ["True", "from-the-file", "ERROR"], result.stderr
