"""Load generators and the measurement around them.

Fixed requests go through ``wrk`` (bench/request.lua checks every response); multi-step
flows run on this process's event loop with the lean client in ``httpclient``. Both are
bounded in time (``duration``) and in count, and both are pinned to the load-generator CPU
(wrk explicitly; this process by ``bench/run``). Server CPU comes from /proc around the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from .httpclient import Connection, HTTPError
from .servers import CLK_TCK, LOADGEN_CPU, SERVER_CPU, Server, pinned, process_tree, stat_fields

LUA_SCRIPT = Path(__file__).resolve().parent / "request.lua"
MAX_OPS_PER_CONNECTION = 2_000_000  # a hard bound on every async load loop


@dataclass
class Run:
    """One measured run of one scenario against one server."""

    ops: int  # requests (or flows) completed
    errors: int
    elapsed_s: float
    p50_ms: float
    p99_ms: float
    cpu_s: float
    error_sample: str = ""
    loadgen_cpu_s: float = float("nan")
    others_cpu_s: float = float("nan")  # every other user-space process on the machine
    steal_s: float = float("nan")  # time the hypervisor ran someone else on the server's CPU

    @property
    def steal_share(self) -> float:
        """Share of the run the server's CPU was taken away by the hypervisor (steal time)."""
        return self.steal_s / self.elapsed_s if self.elapsed_s else float("nan")

    @property
    def other_busy(self) -> float:
        """CPU used by unrelated processes during the run, as a share of one CPU."""
        return self.others_cpu_s / self.elapsed_s if self.elapsed_s else float("nan")

    @property
    def server_busy(self) -> float:
        """Share of one CPU the server used during the run (1.0 = one core saturated)."""
        return self.cpu_s / self.elapsed_s if self.elapsed_s else float("nan")

    @property
    def loadgen_busy(self) -> float:
        return self.loadgen_cpu_s / self.elapsed_s if self.elapsed_s else float("nan")

    @property
    def rate(self) -> float:
        return self.ops / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def cpu_ms_per_op(self) -> float:
        return 1000 * self.cpu_s / self.ops if self.ops else float("nan")


@dataclass
class WrkRequest:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    expect_status: int = 200
    expect_body: str = ""


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


# wrk -----------------------------------------------------------------------------------


def wrk_path() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk")
    return wrk


async def run_wrk(server: Server, request: WrkRequest, duration: float, connections: int) -> Run:
    env = {
        **os.environ,
        "BENCH_METHOD": request.method,
        "BENCH_BODY": request.body,
        "BENCH_HEADERS": "\n".join(f"{name}: {value}" for name, value in request.headers.items()),
        "BENCH_EXPECT_STATUS": str(request.expect_status),
        "BENCH_EXPECT_BODY": request.expect_body,
    }
    argv = [wrk_path(), "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s"]
    argv += ["-s", str(LUA_SCRIPT), server.url + request.path]
    before = server.cpu_ticks()
    others = OtherProcesses()
    steal = CoreSteal(SERVER_CPU)
    children_before = _children_cpu_s()
    process = await asyncio.create_subprocess_exec(
        *pinned(LOADGEN_CPU, argv), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), duration + 60)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    cpu_s = (server.cpu_ticks() - before) / CLK_TCK
    loadgen_cpu_s = _children_cpu_s() - children_before
    others_cpu_s = others.cpu_s()
    steal_s = steal.seconds()
    line = next((x for x in stdout.decode().splitlines() if x.startswith("BENCH_JSON ")), None)
    if process.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({process.returncode}): {stdout.decode()[-2000:]}\n{stderr.decode()[-2000:]}")
    result = json.loads(line[len("BENCH_JSON ") :])
    socket_errors = result["connect"] + result["read"] + result["write"] + result["timeout"]
    errors = result["bad_status"] + result["bad_body"] + socket_errors
    sample = result["sample"] or (f"socket errors: {socket_errors}" if socket_errors else "")
    # wrk's own duration is the load window; the CPU window (process start to exit) is a
    # few milliseconds longer, which only ever overstates CPU per request slightly.
    return Run(
        ops=result["requests"],
        errors=errors,
        elapsed_s=result["duration_us"] / 1e6,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        cpu_s=cpu_s,
        error_sample=sample,
        loadgen_cpu_s=loadgen_cpu_s,
        others_cpu_s=others_cpu_s,
        steal_s=steal_s,
    )


class CoreSteal:
    """Steal time of one CPU (``/proc/stat``): on a virtual machine, time the hypervisor gave
    the physical core to another guest. It slows the server without showing in any process's
    figures, and the caches it leaves behind make the server's own CPU per request larger."""

    def __init__(self, cpu: int) -> None:
        self.cpu = cpu
        self.before = self._ticks()

    def _ticks(self) -> int:
        try:
            for line in Path("/proc/stat").read_text().splitlines():
                fields = line.split()
                if fields[0] == f"cpu{self.cpu}":
                    return int(fields[8]) if len(fields) > 8 else 0
        except (OSError, ValueError, IndexError):
            pass
        return 0

    def seconds(self) -> float:
        return (self._ticks() - self.before) / CLK_TCK


class OtherProcesses:
    """CPU time of every user-space process outside this benchmark's own process tree.

    Per-process figures from /proc (not /proc/stat), because the kernel charges some
    network interrupt work both to processes and to its softirq counter. A process that
    starts and ends between two snapshots is missed; one that starts in between counts
    from zero.
    """

    def __init__(self) -> None:
        self.before = self._snapshot()

    @staticmethod
    def _snapshot() -> dict[int, tuple[int, int]]:
        ours = set(process_tree(os.getpid()))
        ticks: dict[int, tuple[int, int]] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) in ours:
                continue
            try:
                fields = stat_fields(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
            if fields[1] in ("0", "2"):  # the kernel's own threads
                continue
            # (start time, utime + stime) identifies a process across pid reuse
            ticks[int(entry.name)] = (int(fields[19]), int(fields[11]) + int(fields[12]))
        return ticks

    def cpu_s(self) -> float:
        total = 0
        for pid, (start, used) in self._snapshot().items():
            earlier = self.before.get(pid)
            total += used - earlier[1] if earlier and earlier[0] == start else used
        return total / CLK_TCK


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# asyncio loops -------------------------------------------------------------------------

# A worker runs one operation (a request or a whole flow) on its connection; it raises on
# failure. ``worker_factory(index)`` returns connection ``index``'s operation.
Operation = Callable[[Connection], Awaitable[None]]


class StopChain(ValueError):
    """Raised by an operation that cannot go on (e.g. its refresh-token chain is broken)."""


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    sample: str = ""


async def _drive(server: Server, operation: Operation, deadline: float, max_ops: int, tally: _Tally) -> None:
    conn = server.connection()
    try:
        done = 0
        while time.monotonic() < deadline and done < max_ops:
            started = time.perf_counter()
            try:
                await operation(conn)
            except (TimeoutError, HTTPError, OSError, ValueError, KeyError) as exc:
                tally.errors += 1
                tally.sample = f"{type(exc).__name__}: {exc}"[:300]
                await conn.close()
                if isinstance(exc, StopChain):
                    return
                continue
            tally.latencies.append(time.perf_counter() - started)
            done += 1
    finally:
        await conn.close()


async def run_async(
    server: Server,
    operations: list[Operation],
    duration: float,
    max_ops_per_connection: int = MAX_OPS_PER_CONNECTION,
) -> Run:
    """Run ``operations[i]`` in a loop on connection ``i`` for ``duration`` seconds."""
    tally = _Tally()
    before = server.cpu_ticks()
    others = OtherProcesses()
    steal = CoreSteal(SERVER_CPU)
    own_before = time.process_time()
    started = time.monotonic()
    deadline = started + duration
    await asyncio.gather(*(_drive(server, op, deadline, max_ops_per_connection, tally) for op in operations))
    elapsed = time.monotonic() - started
    cpu_s = (server.cpu_ticks() - before) / CLK_TCK
    own_cpu_s = time.process_time() - own_before
    others_cpu_s = others.cpu_s()
    steal_s = steal.seconds()
    latencies = sorted(tally.latencies)
    return Run(
        ops=len(latencies),
        errors=tally.errors,
        elapsed_s=elapsed,
        p50_ms=1000 * percentile(latencies, 0.50),
        p99_ms=1000 * percentile(latencies, 0.99),
        cpu_s=cpu_s,
        error_sample=tally.sample,
        loadgen_cpu_s=own_cpu_s,
        others_cpu_s=others_cpu_s,
        steal_s=steal_s,
    )
