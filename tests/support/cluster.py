"""A small production-like cluster on 127.0.0.1: nginx round-robin over two app nodes.

Each node is ``uvicorn mcpdemo.asgi:application --workers 2`` with production
settings (debug off, pinned public URL = the load balancer), all sharing one fresh
PostgreSQL database and one Redis database.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from tests.support.live_server import ROOT, free_port, fresh_database

WORKERS = 2  # uvicorn workers per node
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
REDIS_TEST_URL = os.environ.get("MCPDEMO_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
POSTGRES_TEST_URL = os.environ.get("MCPDEMO_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/mcpdemo")

DEPLOY_NGINX_CONF = ROOT / "deploy" / "nginx.conf"
# What a host's nginx.conf has around the deployment file: process and scratch paths.
NGINX_MAIN = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {dir}/nginx-access.log;
    client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
    include {site};
}}
"""


def render_nginx_site(**values: str) -> str:
    """deploy/nginx.conf with its ${NAME} placeholders filled in, nothing else changed."""
    text = DEPLOY_NGINX_CONF.read_text()
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    if missing := re.findall(r"\$\{[A-Z_]+\}", text):
        raise ValueError(f"unfilled placeholders in deploy/nginx.conf: {missing}")
    return text


@dataclass
class Node:
    """One app node: ``scripts/run-production`` with two workers, as docs/deploying.md says."""

    name: str
    port: int
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def requests_served(self, path: str, method: str = "POST") -> int:
        return sum(1 for line in self.log().splitlines() if f'"{method} {path} ' in line)

    def start(self) -> None:
        node_env = {**self.env, "HOST": "127.0.0.1", "PORT": str(self.port), "MCPDEMO_WORKERS": str(WORKERS),
                    "MIGRATE_ON_START": "0", "FORWARDED_ALLOW_IPS": "127.0.0.1"}  # fmt: skip
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                [str(ROOT / "scripts" / "run-production")],
                cwd=ROOT, env=node_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def wait_healthy(self, timeout: float = 40) -> float:
        """Seconds from now until /healthz answers."""
        started = time.monotonic()
        _wait(self.url, self.process, timeout)
        return time.monotonic() - started

    def kill(self) -> None:
        """Hard stop, like a crashed machine: every process of the node at once."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def terminate(self, timeout: float = 60) -> None:
        """What an orchestrator does: SIGTERM to the server, then wait for it to drain and exit."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise

    def restart(self) -> float:
        """A graceful restart; returns the seconds from the new start until healthy."""
        self.terminate()
        self.start()
        return self.wait_healthy()


@dataclass
class Cluster:
    url: str
    env: dict[str, str]
    nodes: list[Node] = field(default_factory=list)
    tmp_path: Path | None = None

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, check=True
        ).stdout

    def nginx_errors(self) -> str:
        assert self.tmp_path is not None
        return (self.tmp_path / "nginx-error.log").read_text(errors="replace")


def _wait(url: str, process: subprocess.Popen | None = None, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process for {url} exited early")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def cluster(
    tmp_path: Path,
    users: dict[str, str],
    *,
    database_url: str | None = None,
    redis_url: str = REDIS_TEST_URL,
    **extra_env: str,
) -> Iterator[Cluster]:
    """Two nodes behind nginx running deploy/nginx.conf. ``database_url``/``redis_url`` point
    at private servers for the fault tests; by default a fresh database on the test PostgreSQL."""
    redis.Redis.from_url(redis_url).flushdb()
    lb_port = free_port()
    public_url = f"http://127.0.0.1:{lb_port}"
    with contextlib.ExitStack() as stack:
        if database_url is None:
            database_url = stack.enter_context(_postgres_database(tmp_path))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MCPDEMO_"))},
            "MCPDEMO_ENV_FILE": "",  # production-like: the environment only, never the checkout's .env
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "cluster-" + secrets.token_hex(32),
            "MCPDEMO_PUBLIC_URL": public_url,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "MCPDEMO_MCP_STATELESS": "1",
            "LOG_LEVEL": "INFO",
            **extra_env,
        }
        run = {"cwd": ROOT, "env": env, "check": True, "capture_output": True}
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], **run)
        # As at a release: scripts/install collects the static files (when they changed) once,
        # before the nodes start, so their own scripts/install has nothing to do.
        subprocess.run([str(ROOT / "scripts" / "install")], **run)
        for username, password in users.items():
            subprocess.run(
                [sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", username,
                 "--email", f"{username}@example.com"],
                **{**run, "env": {**env, "DJANGO_SUPERUSER_PASSWORD": password}},
            )  # fmt: skip
        state = Cluster(public_url, env, tmp_path=tmp_path)
        nginx = None
        try:
            for name in ("a", "b"):
                node = Node(name, free_port(), tmp_path / f"node-{name}.log", env)
                node.start()
                state.nodes.append(node)
            for node in state.nodes:
                node.wait_healthy()
            site = tmp_path / "mcpdemo-site.conf"
            site.write_text(
                render_nginx_site(
                    NODE_A=f"127.0.0.1:{state.nodes[0].port}",
                    NODE_B=f"127.0.0.1:{state.nodes[1].port}",
                    LISTEN=f"127.0.0.1:{lb_port}",
                    SERVER_NAME="127.0.0.1",
                )
            )
            conf = tmp_path / "nginx.conf"
            conf.write_text(NGINX_MAIN.format(dir=tmp_path, site=site))
            nginx = subprocess.Popen(
                [NGINX, "-c", str(conf), "-p", str(tmp_path), "-g", "daemon off;"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            _wait(public_url, nginx)
            yield state
        finally:
            if nginx is not None:
                nginx.terminate()
                nginx.wait(timeout=10)
            for node in state.nodes:
                if node.process is not None and node.process.poll() is None:
                    os.killpg(node.process.pid, signal.SIGTERM)
                    try:
                        node.process.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        os.killpg(node.process.pid, signal.SIGKILL)
            with contextlib.suppress(redis.RedisError):
                redis.Redis.from_url(redis_url).flushdb()


@contextmanager
def _postgres_database(tmp_path: Path) -> Iterator[str]:
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = POSTGRES_TEST_URL
    try:
        with fresh_database(tmp_path) as url:
            yield url
    finally:
        if previous is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = previous
