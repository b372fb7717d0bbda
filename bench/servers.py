"""Server processes under test (ours: uvicorn; the seed: node), pinned to CPU 0, and /proc readings."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .httpclient import Connection, HTTPError

ROOT = Path(__file__).resolve().parent.parent
TASKSET = shutil.which("taskset")
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_CPU = 0
LOADGEN_CPU = 1


# One load generator on one address would trip the per-address limits at once (30
# registrations an hour): limits this high never trip, but every counter is still kept,
# so what a limit check costs stays in the figures.
UNREACHABLE_RATE_LIMITS = {
    "MCPDEMO_RATE_LIMIT_REGISTER": "1000000000/h",
    "MCPDEMO_RATE_LIMIT_TOKEN": "1000000000/h",
    "MCPDEMO_RATE_LIMIT_LOGIN": "1000000000/h",
}


# The features that scenarios 9a (all off) and 9b (all on) compare: permissions, usage counting, metrics.
FEATURE_SWITCHES = ("MCPDEMO_TOOL_PERMISSIONS", "MCPDEMO_USAGE_COUNTING", "MCPDEMO_METRICS_ENABLED")


def features_env(on: bool, workdir: Path) -> dict[str, str]:
    """Every feature switch on or off; on, metrics in multiprocess mode, as scripts/run-production serves them."""
    env = dict.fromkeys(FEATURE_SWITCHES, "1" if on else "0")
    if on:
        directory = workdir / "prometheus-features-on"
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
        env["MCPDEMO_METRICS_TOKEN"] = secrets.token_urlsafe(32)
    return env


def pinned(cpu: int, argv: list[str]) -> list[str]:
    """``argv`` run on one CPU with ``taskset`` (unpinned when taskset is missing)."""
    return [TASKSET, "-c", str(cpu), *argv] if TASKSET else argv


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# /proc ---------------------------------------------------------------------------------


def stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()  # fields from "state" (field 3) on


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if int(stat_fields(int(entry.name))[1]) == pid:
                    kids.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return kids


def process_tree(pid: int) -> list[int]:
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(_children(current))
    return tree


def cpu_ticks(pids: list[int]) -> int:
    """utime + stime (all threads) of ``pids``, in clock ticks (``CLK_TCK`` per second)."""
    total = 0
    for pid in pids:
        try:
            fields = stat_fields(pid)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime (14), stime (15)
    return total


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


# Processes -----------------------------------------------------------------------------


@dataclass
class Server:
    """A running server process and what the benchmark needs to know about it."""

    name: str
    kind: str  # "ours" or "seed"
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    pids: list[int] = field(default_factory=list)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_ticks(self) -> int:
        return cpu_ticks(self.pids or [self.pid])

    def rss_kib(self) -> int:
        return sum(rss_kib(pid) for pid in (self.pids or [self.pid]))

    def connection(self) -> Connection:
        return Connection(self.host, self.port)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def spawn(argv: list[str], cwd: Path, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("w") as log:
        return subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)


async def wait_until_up(server: Server, path: str, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited early:\n{server.log_tail()}")
        conn = server.connection()
        try:
            response = await conn.get(path)
            if response.status == 200:
                # A server that answers is fully started: record its process tree once.
                server.pids = process_tree(server.pid)
                return
        except (TimeoutError, OSError, HTTPError):
            pass
        finally:
            await conn.close()
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{server.name} did not answer within {limit_s}s:\n{server.log_tail()}")


@dataclass
class OurDeployment:
    """One fresh SQLite database (in ``workdir``) shared by every instance of our server.

    All instances use the same ``MCPDEMO_PUBLIC_URL`` (that of the first port), as several
    workers behind one public origin would, so a token issued by one is valid on all.
    """

    workdir: Path
    username: str = "bench"
    password: str = field(default_factory=lambda: "pw-" + secrets.token_urlsafe(12))
    public_port: int = field(default_factory=free_port)
    server_env: dict[str, str] = field(default_factory=dict)  # extra knobs for what-if runs

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.public_port}"

    @property
    def resource(self) -> str:
        return self.public_url + "/mcp"

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "MCPDEMO_", "PROMETHEUS_"))
        }
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "bench.settings",
                "MCPDEMO_ENV_FILE": "",  # the environment only, never the checkout's development .env
                "BENCH_STATIC_ROOT": str(self.workdir / "static"),
                "DJANGO_DEBUG": "0",
                "DJANGO_SECRET_KEY": "bench-" + secrets.token_hex(24),
                "MCPDEMO_PUBLIC_URL": self.public_url,
                "DATABASE_URL": f"sqlite:///{self.workdir / 'bench.sqlite3'}",
                "PYTHONPATH": str(ROOT),
                **UNREACHABLE_RATE_LIMITS,
                **self.server_env,
                **extra,
            }
        )
        if "DATABASE_CONN_MAX_AGE" not in self.server_env:
            env.pop("DATABASE_CONN_MAX_AGE", None)
        return env

    def _manage(self, *args: str, env: dict[str, str] | None = None) -> None:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env or self.env(), capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")

    def prepare(self) -> None:
        """Collect static files, migrate the empty database, create the benchmark user."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Static files first: with the manifest storage, URL modules that call static()
        # at import time fail until the manifest exists.
        self._manage("collectstatic", "--noinput")
        self._manage("migrate", "--noinput")
        self._manage(
            "createsuperuser",
            "--noinput",
            "--username",
            self.username,
            "--email",
            f"{self.username}@example.com",
            env=self.env(DJANGO_SUPERUSER_PASSWORD=self.password),
        )

    async def start(
        self,
        name: str,
        *,
        stateless: bool = False,
        app: str = "mcpdemo.asgi:application",
        port: int | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> Server:
        port = port or free_port()
        env = self.env(MCPDEMO_MCP_STATELESS="1" if stateless else "0", **(extra_env or {}))
        log_path = self.workdir / f"{name}.log"
        argv = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--workers", "1", "--no-access-log", "--lifespan", "on"]
        process = spawn(pinned(SERVER_CPU, argv), ROOT, env, log_path)
        server = Server(name, "ours", port, process, log_path)
        try:
            await wait_until_up(server, "/.well-known/oauth-authorization-server")
        except BaseException:
            server.stop()
            raise
        return server


def ensure_seed(source: Path, workdir: Path) -> None:
    """Copy the read-only seed baseline to ``workdir`` and ``npm ci`` there (once)."""
    if (workdir / "node_modules" / "tsx").is_dir() and (workdir / "server.ts").is_file():
        return
    if not (source / "server.ts").is_file():
        raise RuntimeError(f"seed baseline not found at {source}")
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed for --seed")
    workdir.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.is_file():
            shutil.copyfile(item, workdir / item.name)
    print(f"[bench] npm ci in {workdir} ...", file=sys.stderr, flush=True)
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=workdir, check=True, capture_output=True)


async def start_seed(workdir: Path, logdir: Path, name: str = "seed") -> Server:
    """The seed server, as ``npm start`` runs it (``tsx server.ts``), in one node process."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is needed for --seed")
    port = free_port()
    log_path = logdir / f"{name}.log"
    env = {**os.environ, "PORT": str(port)}
    process = spawn(pinned(SERVER_CPU, [node, "--import", "tsx", "server.ts"]), workdir, env, log_path)
    server = Server(name, "seed", port, process, log_path)
    try:
        await wait_until_up(server, "/.well-known/oauth-protected-resource")
    except BaseException:
        server.stop()
        raise
    return server
