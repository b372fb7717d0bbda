"""A small production-like cluster on 127.0.0.1: nginx round-robin over two app nodes.

Each node is ``uvicorn mcpdemo.asgi:application --workers 2`` with production
settings (debug off, pinned public URL = the load balancer), all sharing one fresh
PostgreSQL database and one Redis database.
"""

from __future__ import annotations

import os
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

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
REDIS_TEST_URL = os.environ.get("MCPDEMO_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
POSTGRES_TEST_URL = os.environ.get("MCPDEMO_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/mcpdemo")

NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {dir}/nginx-access.log;
    client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
    upstream mcpdemo {{
        server 127.0.0.1:{port_a} max_fails=1 fail_timeout=30s;
        server 127.0.0.1:{port_b} max_fails=1 fail_timeout=30s;
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://mcpdemo;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering off;             # SSE streams go straight through
            proxy_read_timeout 300s;
            proxy_next_upstream error timeout http_502 http_503;
        }}
    }}
}}
"""


@dataclass
class Node:
    name: str
    port: int
    log_path: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests_served(self, path: str, method: str = "POST") -> int:
        return sum(1 for line in self.log_path.read_text().splitlines() if f'"{method} {path} ' in line)

    def kill(self) -> None:
        """Hard stop, like a crashed machine: every process of the node at once."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@dataclass
class Cluster:
    url: str
    env: dict[str, str]
    nodes: list[Node] = field(default_factory=list)

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, check=True
        ).stdout


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
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def cluster(tmp_path: Path, users: dict[str, str], **extra_env: str) -> Iterator[Cluster]:
    redis.Redis.from_url(REDIS_TEST_URL).flushdb()
    lb_port = free_port()
    public_url = f"http://127.0.0.1:{lb_port}"
    with _postgres_database(tmp_path) as database_url:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MCPDEMO_"))},
            "MCPDEMO_ENV_FILE": "",  # production-like: the environment only, never the checkout's .env
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "cluster-" + secrets.token_hex(32),
            "MCPDEMO_PUBLIC_URL": public_url,
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_TEST_URL,
            "MCPDEMO_MCP_STATELESS": "1",
            "LOG_LEVEL": "INFO",
            **extra_env,
        }
        run = {"cwd": ROOT, "env": env, "check": True, "capture_output": True}
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], **run)
        subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], **run)
        for username, password in users.items():
            subprocess.run(
                [sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", username,
                 "--email", f"{username}@example.com"],
                **{**run, "env": {**env, "DJANGO_SUPERUSER_PASSWORD": password}},
            )  # fmt: skip
        state = Cluster(public_url, env)
        nginx = None
        try:
            for name in ("a", "b"):
                node = Node(name, free_port(), tmp_path / f"node-{name}.log")
                with node.log_path.open("w") as log:
                    node.process = subprocess.Popen(
                        [sys.executable, "-m", "uvicorn", "mcpdemo.asgi:application", "--host", "127.0.0.1",
                         "--port", str(node.port), "--workers", "2", "--proxy-headers",
                         "--forwarded-allow-ips", "127.0.0.1", "--lifespan", "on"],
                        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                    )  # fmt: skip
                state.nodes.append(node)
            for node in state.nodes:
                _wait(node.url, node.process)
            conf = tmp_path / "nginx.conf"
            conf.write_text(
                NGINX_CONF.format(dir=tmp_path, port=lb_port, port_a=state.nodes[0].port, port_b=state.nodes[1].port)
            )
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
            redis.Redis.from_url(REDIS_TEST_URL).flushdb()


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
