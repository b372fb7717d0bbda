"""A real mcpdemo server process on 127.0.0.1, with its own fresh database.

Used by the end-to-end tests: the server runs exactly as in production
(uvicorn + ``mcpdemo.asgi:application``), migrated from empty, on SQLite by default
or on PostgreSQL when the test run itself uses PostgreSQL (``DATABASE_URL``).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def fresh_database(tmp_path: Path) -> Iterator[str]:
    """A ``DATABASE_URL`` for an empty database of the same engine as the test run."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{tmp_path / 'e2e.sqlite3'}"
        return
    import psycopg

    base, _, _name = url.rpartition("/")
    name = f"mcpdemo_e2e_{secrets.token_hex(4)}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    port: int
    log_path: Path
    process: subprocess.Popen | None = None

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, check=True
        )
        return result.stdout

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def start(self) -> None:
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "mcpdemo.asgi:application", "--host", "127.0.0.1",
                 "--port", str(self.port), "--lifespan", "on"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        _wait_until_up(self.url, self.process, self.log_path)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def _wait_until_up(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text()}")
        try:
            if httpx.get(url + "/.well-known/oauth-authorization-server", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not start in {timeout}s:\n{log_path.read_text()}")


@contextmanager
def live_server(tmp_path: Path, users: dict[str, str], **extra_env: str) -> Iterator[LiveServer]:
    """Migrate a fresh database, create ``users`` (name → password), serve on a free port."""
    port = free_port()
    with fresh_database(tmp_path) as database_url:
        env = {
            **os.environ,
            "DJANGO_DEBUG": "1",
            "DJANGO_SECRET_KEY": "e2e-" + secrets.token_hex(16),
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "INFO",
            # The project's settings with cheap password hashing (each PBKDF2 sign-in costs ~1.6 s).
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            **extra_env,
        }
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                       capture_output=True)  # fmt: skip
        for username, password in users.items():
            subprocess.run(
                [sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", username,
                 "--email", f"{username}@example.com"],
                cwd=ROOT, env={**env, "DJANGO_SUPERUSER_PASSWORD": password}, check=True, capture_output=True,
            )  # fmt: skip
        server = LiveServer(f"http://127.0.0.1:{port}", env, port, tmp_path / "server.log")
        try:
            server.start()
            yield server
        finally:
            server.stop()
