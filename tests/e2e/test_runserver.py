"""``manage.py runserver`` serves the ASGI application, /mcp included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from unittest import mock

import httpx
import pytest
from django.core.management import call_command

from tests.support.live_server import ROOT, free_port


def post_mcp_once_up(port: int, seconds: float = 20) -> httpx.Response:
    """POST /mcp (no token) as soon as the server accepts connections."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return httpx.post(f"http://127.0.0.1:{port}/mcp", json={}, timeout=1)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.django_db
def test_runserver_runs_uvicorn_on_the_asgi_application_with_reload() -> None:
    with mock.patch("mcpapp.management.commands.runserver.uvicorn.run") as run:
        call_command("runserver", "127.0.0.1:8123", skip_checks=True)

    (app,), options = run.call_args
    assert app == "mcpdemo.asgi:application"
    assert options["host"] == "127.0.0.1"
    assert options["port"] == 8123
    assert options["reload"] is True
    assert options["lifespan"] == "on"


@pytest.mark.django_db
def test_runserver_noreload_and_ipv6() -> None:
    with mock.patch("mcpapp.management.commands.runserver.uvicorn.run") as run:
        call_command("runserver", "[::1]:8124", use_reloader=False, use_ipv6=True, skip_checks=True)

    assert run.call_args.kwargs["host"] == "::1"
    assert run.call_args.kwargs["reload"] is False


@pytest.mark.e2e
def test_runserver_process_answers_mcp_with_a_challenge(tmp_path) -> None:
    port = free_port()
    env = {**os.environ, "DJANGO_DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                   capture_output=True)  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        response = post_mcp_once_up(port)
        assert response.status_code == 401
        assert (
            f'resource_metadata="http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp"'
            in (response.headers["www-authenticate"])
        )
        home = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert home.status_code == 200
        assert f"http://127.0.0.1:{port}/mcp" in home.text
        css = httpx.get(f"http://127.0.0.1:{port}/static/css/site.css", timeout=5)
        assert css.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.e2e
def test_the_quick_start_script_says_how_to_make_the_first_account_and_serves(tmp_path) -> None:
    """``scripts/serve`` without a terminal: migrate, the account hint, then the server."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MCPDEMO_"))},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    process = subprocess.Popen(
        ["scripts/serve", f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        lines = []
        for line in process.stdout:
            lines.append(line.strip())
            if line.startswith("In VS Code"):
                break
        assert "No accounts yet. Create one with:  .venv/bin/python manage.py createsuperuser" in lines
        assert lines[-1] == f"In VS Code, add the HTTP MCP server  http://127.0.0.1:{port}/mcp  and sign in when asked."
        assert post_mcp_once_up(port).status_code == 401
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the reloader and its server
        process.wait(timeout=10)
        process.stdout.close()
        process.stdout.close()
