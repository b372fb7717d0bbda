"""Medians of the runs and the Markdown report."""

from __future__ import annotations

import math
import os
import platform
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .load import Run


@dataclass
class Result:
    key: str  # scenario number, e.g. "1" or "3a"
    title: str
    server: str  # "ours" or "seed"
    unit: str  # "req" or "flow"
    runs: list[Run]
    warmup_errors: int = 0

    def _median(self, values: list[float]) -> float:
        values = [v for v in values if not math.isnan(v)]
        return statistics.median(values) if values else float("nan")

    @property
    def rate(self) -> float:
        return self._median([r.rate for r in self.runs])

    @property
    def p50_ms(self) -> float:
        return self._median([r.p50_ms for r in self.runs])

    @property
    def p99_ms(self) -> float:
        return self._median([r.p99_ms for r in self.runs])

    @property
    def cpu_ms(self) -> float:
        return self._median([r.cpu_ms_per_op for r in self.runs])

    @property
    def ops(self) -> int:
        return sum(r.ops for r in self.runs)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.runs)

    @property
    def error_sample(self) -> str:
        return next((r.error_sample for r in self.runs if r.error_sample), "")


@dataclass
class MemoryResult:
    server: str
    requested: int
    opened: int
    errors: int
    rss_before_kib: int
    rss_after_kib: int
    elapsed_s: float
    cpu_s: float
    p50_ms: float
    p99_ms: float
    milestones: list[tuple[int, int]] = field(default_factory=list)  # (sessions, RSS KiB)
    error_sample: str = ""

    @property
    def growth_mib(self) -> float:
        return (self.rss_after_kib - self.rss_before_kib) / 1024

    @property
    def mib_per_1000(self) -> float:
        return 1000 * self.growth_mib / self.opened if self.opened else float("nan")


def _fmt(value: float, digits: int = 2) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def _rate(result: Result) -> str:
    return f"{result.rate:,.0f} {'flows' if result.unit == 'flow' else 'req'}/s"


# Which seed row each of our rows is compared with (CPU per request/flow).
SEED_COUNTERPART = {"1": "1", "2": "1", "4": "4", "5": "5", "6": "6"}


def results_table(results: list[Result]) -> str:
    seed = {r.key: r for r in results if r.server == "seed"}
    lines = [
        "| # | scenario | server | throughput | p50 ms | p99 ms | server CPU ms/op | CPU ours ÷ seed | errors / ops |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ratio = ""
        counterpart = seed.get(SEED_COUNTERPART.get(r.key, ""))
        if r.server == "ours" and counterpart is not None and counterpart.cpu_ms > 0:
            ratio = f"{r.cpu_ms / counterpart.cpu_ms:.1f}×"
            if counterpart.key != r.key:
                ratio += f" (vs seed {counterpart.key})"
        lines.append(
            f"| {r.key} | {r.title} | {r.server} | {_rate(r)} | {_fmt(r.p50_ms)} | {_fmt(r.p99_ms)} | "
            f"{_fmt(r.cpu_ms, 3)} | {ratio} | {r.errors} / {r.ops:,} |"
        )
    return "\n".join(lines)


def memory_table(memory: list[MemoryResult]) -> str:
    lines = [
        "| server | sessions opened | errors | RSS before MiB | RSS after MiB | growth MiB | MiB per 1,000 sessions "
        "| initialize/s | CPU ms/initialize | p50 / p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in memory:
        rate = m.opened / m.elapsed_s if m.elapsed_s else float("nan")
        cpu = 1000 * m.cpu_s / m.opened if m.opened else float("nan")
        lines.append(
            f"| {m.server} | {m.opened:,} of {m.requested:,} | {m.errors} | {m.rss_before_kib / 1024:,.1f} | "
            f"{m.rss_after_kib / 1024:,.1f} | {m.growth_mib:,.1f} | {_fmt(m.mib_per_1000)} | {rate:,.0f} | "
            f"{_fmt(cpu, 3)} | {_fmt(m.p50_ms)} / {_fmt(m.p99_ms)} |"
        )
    return "\n".join(lines)


def derived_lines(results: list[Result]) -> list[str]:
    by_key = {r.key: r for r in results if r.server == "ours"}
    lines = []
    if "2" in by_key and "3a" in by_key:
        cost = by_key["2"].cpu_ms - by_key["3a"].cpu_ms
        share = 100 * cost / by_key["2"].cpu_ms if by_key["2"].cpu_ms else float("nan")
        lines.append(
            f"- Token check, valid token (2 − 3a): {_fmt(cost, 3)} ms CPU per request "
            f"({_fmt(share, 0)}% of a stateless tool call)."
        )
    if "3b" in by_key and "4" in by_key:
        cost = by_key["3b"].cpu_ms - by_key["4"].cpu_ms
        lines.append(f"- Token check, unknown token (3b − 4): {_fmt(cost, 3)} ms CPU per request.")
    if "9a" in by_key and "9b" in by_key:
        off, on = by_key["9a"].cpu_ms, by_key["9b"].cpu_ms
        share = 100 * (on - off) / off if off else float("nan")
        lines.append(
            f"- Permissions + usage counting + metrics (9b − 9a): {_fmt(on - off, 3)} ms CPU per stateless tool call "
            f"({_fmt(share, 1)}% of {_fmt(off, 3)} ms; the budget is 5%)."
        )
    if "1" in by_key and "2" in by_key:
        lines.append(
            f"- Stateless vs stateful tool call: {_fmt(by_key['2'].cpu_ms, 3)} vs {_fmt(by_key['1'].cpu_ms, 3)} ms CPU."
        )
    return lines


def run_details(results: list[Result]) -> str:
    lines = [
        "| # | server | each run: throughput/s, server CPU ms/op, CPU busy: server / load generator / others; "
        "steal on the server's CPU |",
        "|---|---|---|",
    ]
    for r in results:
        runs = "; ".join(
            f"{run.rate:,.0f}/s, {run.cpu_ms_per_op:.3f} ms, "
            f"{run.server_busy:.0%} / {run.loadgen_busy:.0%} / {run.other_busy:.0%}; {run.steal_share:.0%}"
            for run in r.runs
        )
        lines.append(f"| {r.key} | {r.server} | {runs} |")
    return "\n".join(lines)


def machine_description() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    loadavg = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    return (
        f"`nproc` = {os.cpu_count()}, CPU: {model}, Linux {platform.release()}, "
        f"Python {platform.python_version()}, node {_version(['node', '--version'])}, "
        f"{_version(['wrk', '--version']).split(' [')[0]}; load average at start {' '.join(loadavg)}"
    )


def code_version(root: Path) -> str:
    """The commit measured, and whether the work tree differed from it (tracked files)."""
    commit = _version(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    try:
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        dirty = ""
    return f"commit {commit}" + (" with uncommitted changes" if dirty else "")


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else "?"
