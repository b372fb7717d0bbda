"""A newcomer's first commands, exactly as ``scripts/serve`` prints them, in a fresh clone.

Nothing is exported (no ``DJANGO_*``, ``MCPDEMO_*``, ``DATABASE_URL``): the ``.env`` that
``scripts/install`` writes is all the configuration there is. The clone shares this
checkout's ``.venv`` (a symlink), so nothing is installed again: ``pyproject.toml`` and the
lock files are copied over so that the install stamps match.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.support.live_server import ROOT, free_port

CONFIGURATION = ("DJANGO_", "MCPDEMO_", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS")


def fresh_clone(tmp_path: Path) -> Path:
    # scripts/install in the clone must find the shared .venv up to date, or it would install there.
    digest = hashlib.sha256((ROOT / "requirements/test-lock.txt").read_bytes() + (ROOT / "pyproject.toml").read_bytes())
    assert (ROOT / ".venv" / f".installed-test-{digest.hexdigest()[:16]}").is_file(), "run scripts/install test first"
    clone = tmp_path / "mcpdemo"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, capture_output=True, timeout=60)
    for name in ("pyproject.toml", "requirements/lock.txt", "requirements/test-lock.txt"):
        shutil.copyfile(ROOT / name, clone / name)
    (clone / ".venv").symlink_to(ROOT / ".venv")
    return clone


def serve_until_up(clone: Path, env: dict[str, str]) -> list[str]:
    """Run ``scripts/serve`` without a terminal until the server answers; what it printed."""
    port = free_port()
    process = subprocess.Popen(
        ["scripts/serve", f"127.0.0.1:{port}"], cwd=clone, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.strip())
            if "add the HTTP MCP server" in line:
                break
        deadline = time.monotonic() + 60
        while True:
            try:
                home = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "\n".join(lines)
                time.sleep(0.2)
        assert home.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/static/css/site.css", timeout=5).status_code == 200
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the reloader's children too
        process.wait(timeout=20)
        if process.stdout is not None:
            process.stdout.close()
    return lines


def test_the_commands_scripts_serve_prints_work_in_a_fresh_clone_with_nothing_exported(tmp_path) -> None:
    clone = fresh_clone(tmp_path)
    env = {key: value for key, value in os.environ.items() if not key.startswith(CONFIGURATION)}

    printed = serve_until_up(clone, env)

    assert (clone / ".env").is_file()
    assert "DJANGO_SECRET_KEY=" in (clone / ".env").read_text()
    hint = next(line for line in printed if "Create one with:" in line)
    createsuperuser = shlex.split(hint.split("Create one with:", 1)[1])
    assert createsuperuser == [".venv/bin/python", "manage.py", "createsuperuser"]

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*createsuperuser[:2], *args], cwd=clone, env={**env, **extra}, capture_output=True, text=True, timeout=120
        )

    made = run(
        "createsuperuser", "--noinput", "--username", "alice", "--email", "alice@example.com",
        DJANGO_SUPERUSER_PASSWORD="a long first password",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    for command in (["check"], ["migrate", "--noinput"]):
        result = run(*command)
        assert result.returncode == 0, result.stderr
    users = "from django.contrib.auth.models import User; print(User.objects.count())"
    count = run("shell", "--no-imports", "-c", users)
    assert count.stdout.strip().splitlines()[-1] == "1", count.stderr
