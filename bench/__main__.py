"""``bench/run``: throughput, latency and server CPU per request of mcpdemo (and the seed).

See bench/README.md. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from . import flows
from .flows import FlowError, Tokens
from .httpclient import Connection, HTTPError
from .load import Operation, Run, StopChain, WrkRequest, percentile, run_async, run_wrk
from .report import (
    MemoryResult,
    Result,
    code_version,
    derived_lines,
    machine_description,
    memory_table,
    results_table,
    run_details,
)
from .servers import CLK_TCK, ROOT, TASKSET, OurDeployment, Server, ensure_seed, features_env, start_seed

ALL_SCENARIOS = ("1", "2", "3a", "3b", "4", "5", "6", "7", "8", "9a", "9b")
MEMORY_TIME_LIMIT_S = 600.0
OTHER_LOAD_WARNING = 0.10  # share of one CPU used by unrelated processes that earns a note...
SATURATED = 0.90  # ...unless the server used at least this share of its CPU anyway


def disturbed(run: Run) -> bool:
    """Other processes, or other guests of the machine (steal), took the server's core away."""
    others = run.other_busy > OTHER_LOAD_WARNING and run.server_busy < SATURATED
    return others or run.steal_share > OTHER_LOAD_WARNING


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.scenarios = set(args.scenarios.split(",")) if args.scenarios else set(ALL_SCENARIOS)
        self.results: list[Result] = []
        self.memory: list[MemoryResult] = []
        self.notes: list[str] = []
        self.token = ""  # our access token, issued on the first instance
        self.code = ""

    def wants(self, *keys: str) -> bool:
        return any(key in self.scenarios for key in keys)

    # Measurement ------------------------------------------------------------------------

    async def measure(
        self,
        key: str,
        title: str,
        server: Server,
        runner: Callable[[float], Awaitable[Run]],
        unit: str = "req",
    ) -> Result:
        (result,) = await self.measure_together([(key, title, server, runner)], unit)
        return result

    async def measure_together(
        self, scenarios: list[tuple[str, str, Server, Callable[[float], Awaitable[Run]]]], unit: str = "req"
    ) -> list[Result]:
        """Measure scenarios run by run in turn (A B, B A, A B, ...), not one after the other.

        A machine whose speed drifts during a benchmark then weighs on each alike, which
        matters for a small difference between two scenarios (the token check: 2 − 3a).
        """
        a = self.args
        warm: list[Run] = []
        for key, title, server, runner in scenarios:
            log(f"{server.name}: scenario {key} ({title}): warm-up {a.warmup:g}s + {a.runs} × {a.duration:g}s")
            warm.append(await runner(a.warmup))
        runs: list[list[Run]] = [[] for _ in scenarios]
        repeated = [0] * len(scenarios)
        for turn in range(a.runs):
            order = list(range(len(scenarios)))
            for index in order if turn % 2 == 0 else reversed(order):
                _key, _title, server, runner = scenarios[index]
                run = await runner(a.duration)
                # A run during which other processes took the server's CPU away (it was not
                # saturated while they were busy) measures them too: repeat it, a bounded number of times.
                for _retry in range(a.retries):
                    if not disturbed(run):
                        break
                    log(
                        f"  run disturbed (others {run.other_busy:.0%} of a CPU, steal {run.steal_share:.0%}, "
                        f"server {run.server_busy:.0%}): repeating"
                    )
                    repeated[index] += 1
                    await asyncio.sleep(2)
                    run = await runner(a.duration)
                runs[index].append(run)
                if server.process.poll() is not None:
                    raise RuntimeError(f"{server.name} died:\n{server.log_tail()}")
        return [
            self._result(key, title, server, unit, runs[i], warm[i], repeated[i])
            for i, (key, title, server, _runner) in enumerate(scenarios)
        ]

    def _result(
        self, key: str, title: str, server: Server, unit: str, runs: list[Run], warm: Run, repeated: int
    ) -> Result:
        result = Result(key, title, server.kind, unit, runs, warmup_errors=warm.errors)
        log(
            f"  {server.name} → {result.rate:,.0f} {unit}/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, "
            f"CPU {result.cpu_ms:.3f} ms/{unit}, errors {result.errors}/{result.ops}"
            + (f" (e.g. {result.error_sample})" if result.errors else "")
        )
        still = [r for r in runs if disturbed(r)]
        if still or repeated:
            worst = max((r.other_busy for r in still), default=0.0)
            steal = max((r.steal_share for r in still), default=0.0)
            self.notes.append(
                f"Scenario {key} ({server.kind}): {repeated} disturbed run(s) repeated; "
                + (
                    f"{len(still)} of {len(runs)} kept runs still disturbed (other processes up to {worst:.0%} of a "
                    f"CPU, steal up to {steal:.0%} of the server's CPU): its throughput is understated and its CPU "
                    "per request may be overstated."
                    if still
                    else "the runs kept were not disturbed."
                )
            )
        if warm.errors:
            self.notes.append(
                f"Scenario {key} ({server.kind}): {warm.errors} errors during warm-up: {warm.error_sample}"
            )
        self.results.append(result)
        return result

    def wrk(self, server: Server, request: WrkRequest) -> Callable[[float], Awaitable[Run]]:
        async def runner(duration: float) -> Run:
            return await run_wrk(server, request, duration, self.args.connections)

        return runner

    def repeat(self, server: Server, make_operation: Callable[[int], Operation]) -> Callable[[float], Awaitable[Run]]:
        async def runner(duration: float) -> Run:
            operations = [make_operation(i) for i in range(self.args.connections)]
            return await run_async(server, operations, duration)

        return runner

    # Requests ---------------------------------------------------------------------------

    @staticmethod
    def tools_call(token: str | None, session_id: str | None) -> WrkRequest:
        body = json.dumps(flows.tools_call(0)).replace('"id": 0', '"id": __ID__')
        return WrkRequest("POST", "/mcp", flows.mcp_headers(token, session_id), body, 200, flows.SLUG)

    @staticmethod
    def unauthorized(token: str | None, expect_body: str) -> WrkRequest:
        body = json.dumps(flows.tools_call(1))
        return WrkRequest("POST", "/mcp", flows.mcp_headers(token), body, 401, expect_body)

    # Our server -------------------------------------------------------------------------

    async def ours(self, deployment: OurDeployment) -> None:
        server = await deployment.start("ours-stateful", port=deployment.public_port)
        try:
            conn = server.connection()
            jar = await flows.sign_in(conn, deployment.username, deployment.password)
            tokens = await flows.our_token_flow(conn, jar, deployment.resource)
            session_id = await flows.mcp_open_session(conn, tokens.access_token)
            await flows.mcp_call_slugify(conn, tokens.access_token, session_id, 1)  # sanity check
            await conn.close()
            self.token = tokens.access_token

            if self.wants("1"):
                title = "`tools/call slugify`, stateful session"
                await self.measure("1", title, server, self.wrk(server, self.tools_call(self.token, session_id)))
            if self.wants("3b"):
                title = "`POST /mcp`, unknown bearer token → 401"
                request = self.unauthorized("x" * 30 + secrets.token_hex(8), "invalid_token")
                await self.measure("3b", title, server, self.wrk(server, request))
            if self.wants("4"):
                request = self.unauthorized(None, "invalid_token")
                await self.measure("4", "`POST /mcp` without a token → 401", server, self.wrk(server, request))
            if self.wants("5"):
                request = WrkRequest("GET", "/.well-known/oauth-protected-resource/mcp", expect_body='"resource"')
                await self.measure("5", "`GET` protected-resource metadata", server, self.wrk(server, request))
            if self.wants("6"):

                def flow(_index: int) -> Operation:
                    async def operation(c: Connection) -> None:
                        await flows.our_token_flow(c, jar, deployment.resource)

                    return operation

                title = "token issuance: register + authorize + consent + token (4 requests)"
                await self.measure("6", title, server, self.repeat(server, flow), unit="flow")
            if self.wants("7"):
                await self.refresh(server, jar, deployment.resource)
        finally:
            server.stop()

        # 2 and 3a run in turn, so that their difference (the token check) is not drift.
        together = []
        stateless = stub = None
        try:
            if self.wants("2"):
                stateless = await deployment.start("ours-stateless", stateless=True)
                title = "`tools/call slugify`, stateless mode"
                together.append(("2", title, stateless, self.wrk(stateless, self.tools_call(self.token, None))))
            if self.wants("3a"):
                stub = await deployment.start(
                    "ours-stateless-noauth", stateless=True, app="bench.noauth_asgi:application"
                )
                title = "`tools/call slugify`, stateless, token check stubbed (bench/noauth_asgi.py)"
                request = self.tools_call("no-auth-" + secrets.token_hex(8), None)
                together.append(("3a", title, stub, self.wrk(stub, request)))
            if together:
                await self.measure_together(together)
        finally:
            for server in (stateless, stub):
                if server is not None:
                    server.stop()
        if self.wants("9a", "9b"):
            await self.features(deployment)
        if self.wants("8"):
            server = await deployment.start("ours-memory")
            try:
                self.memory.append(await self.sessions_memory(server, self.token))
            finally:
                server.stop()

    async def features(self, deployment: OurDeployment) -> None:
        """9a and 9b: the stateless call with every feature switch off, then on, run by run in turn."""
        servers: list[Server] = []
        secrets_by_key: dict[str, str] = {}
        try:
            together = []
            for key, on in (("9a", False), ("9b", True)):
                env = features_env(on, deployment.workdir)
                secrets_by_key[key] = env.get("MCPDEMO_METRICS_TOKEN", "none")
                server = await deployment.start(f"ours-features-{'on' if on else 'off'}", stateless=True, extra_env=env)
                servers.append(server)
                switch = "on" if on else "off"
                title = f"`tools/call slugify`, stateless, permissions + usage counting + metrics {switch}"
                together.append((key, title, server, self.wrk(server, self.tools_call(self.token, None))))
            results = await self.measure_together(together)
            for (key, _title, server, _runner), result in zip(together, results, strict=True):
                await self.check_metrics(key, server, secrets_by_key[key], result.ops)
        finally:
            for server in servers:
                server.stop()

    async def check_metrics(self, key: str, server: Server, secret: str, ops: int) -> None:
        """The switch took: with metrics on, /metrics counts every measured call; off, it is a 404."""
        conn = server.connection()
        try:
            response = await conn.get("/metrics", {"Authorization": f"Bearer {secret}"})
        finally:
            await conn.close()
        if key == "9a":
            if response.status != 404:
                raise RuntimeError(f"{server.name}: /metrics answered {response.status} with metrics off")
            return
        line = next(
            (line for line in response.text.splitlines() if line.startswith('mcpdemo_tool_calls_total{outcome="ok"')),
            "",
        )
        counted = float(line.rsplit(" ", 1)[-1]) if line else 0.0
        if response.status != 200 or counted < ops:
            raise RuntimeError(f"{server.name}: /metrics {response.status}, {counted:.0f} tool calls counted for {ops}")
        log(f"  {server.name}: /metrics counted {counted:,.0f} tool calls (measured runs: {ops:,})")

    async def refresh(self, server: Server, jar: flows.CookieJar, resource: str) -> None:
        """Scenario 7: each connection walks its own chain of rotating refresh tokens."""
        needed = self.args.connections * (self.args.runs + 1)
        log(f"{server.name}: preparing {needed} refresh-token chains (one client and consent each)")

        def new_chain(c: Connection) -> Awaitable[Tokens]:
            return flows.our_token_flow(c, jar, resource)

        chains = await self.prepare_tokens(server, needed, new_chain)
        batches = [chains[i : i + self.args.connections] for i in range(0, needed, self.args.connections)]

        def chain(tokens: Tokens) -> Operation:
            current = {"refresh_token": tokens.refresh_token or ""}

            async def operation(c: Connection) -> None:
                try:
                    current["refresh_token"] = await flows.our_refresh(c, tokens.client_id, current["refresh_token"])
                except (TimeoutError, FlowError, HTTPError, OSError) as exc:
                    raise StopChain(f"chain broken: {exc}") from exc

            return operation

        async def runner(duration: float) -> Run:
            if not batches:  # a repeated run needs fresh chains too
                batches.append(await self.prepare_tokens(server, self.args.connections, new_chain))
            batch = batches.pop(0)
            return await run_async(server, [chain(t) for t in batch], duration)

        await self.measure("7", "refresh (`grant_type=refresh_token`, rotating)", server, runner)

    async def prepare_tokens(
        self, server: Server, count: int, flow: Callable[[Connection], Awaitable[Tokens]]
    ) -> list[Tokens]:
        tokens: list[Tokens] = []

        async def worker() -> None:
            conn = server.connection()
            try:
                while len(tokens) < count:
                    tokens.append(await flow(conn))
            finally:
                await conn.close()

        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(4))), 300)
        return tokens[:count]

    async def sessions_memory(self, server: Server, token: str) -> MemoryResult:
        """Scenario 8: open N idle stateful sessions (initialize only); RSS growth."""
        count = self.args.sessions
        conn = server.connection()
        for _ in range(20):  # warm the initialize path without keeping sessions
            session_id = await flows.mcp_initialize(conn, token)
            await flows.mcp_delete_session(conn, token, session_id)
        await conn.close()
        await asyncio.sleep(1)
        rss_before = server.rss_kib()
        log(f"{server.name}: scenario 8: opening {count:,} sessions (RSS {rss_before / 1024:.1f} MiB)")
        claimed = opened = errors = 0
        sample = ""
        latencies: list[float] = []
        milestones: list[tuple[int, int]] = []
        before = server.cpu_ticks()
        started = time.monotonic()
        deadline = started + MEMORY_TIME_LIMIT_S

        async def worker() -> None:
            nonlocal claimed, opened, errors, sample
            c = server.connection()
            try:
                while claimed < count and time.monotonic() < deadline:
                    claimed += 1
                    t0 = time.perf_counter()
                    try:
                        await flows.mcp_initialize(c, token)
                    except (TimeoutError, FlowError, HTTPError, OSError) as exc:
                        errors += 1
                        sample = str(exc)[:300]
                        await c.close()
                        continue
                    latencies.append(time.perf_counter() - t0)
                    opened += 1
                    if opened % 1000 == 0:
                        milestones.append((opened, server.rss_kib()))
            finally:
                await c.close()

        await asyncio.gather(*(worker() for _ in range(self.args.connections)))
        elapsed = time.monotonic() - started
        cpu_s = (server.cpu_ticks() - before) / CLK_TCK
        await asyncio.sleep(1)
        rss_after = server.rss_kib()
        latencies.sort()
        result = MemoryResult(
            server=server.kind,
            requested=count,
            opened=opened,
            errors=errors,
            rss_before_kib=rss_before,
            rss_after_kib=rss_after,
            elapsed_s=elapsed,
            cpu_s=cpu_s,
            p50_ms=1000 * percentile(latencies, 0.5),
            p99_ms=1000 * percentile(latencies, 0.99),
            milestones=milestones,
            error_sample=sample,
        )
        log(
            f"  → {opened:,} sessions, {errors} errors, RSS +{result.growth_mib:.1f} MiB "
            f"({result.mib_per_1000:.2f} MiB per 1,000)" + (f" (e.g. {sample})" if errors else "")
        )
        return result

    # The seed ---------------------------------------------------------------------------

    async def seed(self, workdir: Path) -> None:
        ensure_seed(Path(self.args.seed_source), Path(self.args.seed_dir))
        server = await start_seed(Path(self.args.seed_dir), workdir)
        try:
            conn = server.connection()
            tokens = await flows.seed_token_flow(conn)
            session_id = await flows.mcp_open_session(conn, tokens.access_token)
            await flows.mcp_call_slugify(conn, tokens.access_token, session_id, 1)
            await conn.close()
            if self.wants("1"):
                title = "`tools/call slugify`, stateful session"
                await self.measure(
                    "1", title, server, self.wrk(server, self.tools_call(tokens.access_token, session_id))
                )
            if self.wants("4"):
                request = self.unauthorized(None, "")
                await self.measure("4", "`POST /mcp` without a token → 401", server, self.wrk(server, request))
            if self.wants("5"):
                # The seed serves RFC 9728 metadata only at the root path (…/mcp is a 404 there).
                request = WrkRequest("GET", "/.well-known/oauth-protected-resource", expect_body='"resource"')
                await self.measure("5", "`GET` protected-resource metadata", server, self.wrk(server, request))
            if self.wants("6"):

                def flow(_index: int) -> Operation:
                    async def operation(c: Connection) -> None:
                        await flows.seed_token_flow(c)

                    return operation

                title = "token issuance: register + authorize + token (seed: 5 requests)"
                await self.measure("6", title, server, self.repeat(server, flow), unit="flow")
            if self.wants("7"):
                await self.seed_refresh_check(server, tokens)
        finally:
            server.stop()
        if self.wants("8"):
            # A fresh process, as for ours, so that garbage from the runs above does not count.
            server = await start_seed(Path(self.args.seed_dir), workdir, "seed-memory")
            try:
                conn = server.connection()
                tokens = await flows.seed_token_flow(conn)
                await conn.close()
                self.memory.append(await self.sessions_memory(server, tokens.access_token))
            finally:
                server.stop()

    async def seed_refresh_check(self, server: Server, tokens: Tokens) -> None:
        conn = server.connection()
        try:
            if not tokens.refresh_token:
                self.notes.append("Scenario 7 (seed): its token response carries no refresh token; not measured.")
                return
            data = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token, "client_id": tokens.client_id}
            response = await conn.post_form("/token", data)
            self.notes.append(
                f"Scenario 7 (seed): not measured: the seed's refresh grant answers HTTP {response.status} "
                f"{response.text[:120]!r} (its in-memory model has no getRefreshToken, and its clients "
                "only have the authorization_code grant)."
            )
        finally:
            await conn.close()

    # Everything -------------------------------------------------------------------------

    async def run(self) -> str:
        started = time.monotonic()
        machine = machine_description()
        self.code = code_version(ROOT)
        workdir = Path(tempfile.mkdtemp(prefix="mcpdemo-bench-"))
        try:
            log(f"fresh database and logs in {workdir}")
            deployment = OurDeployment(workdir, server_env=dict(self.args.server_env))
            deployment.prepare()
            await self.ours(deployment)
            if self.args.seed:
                await self.seed(workdir)
        finally:
            if self.args.keep_tmp:
                log(f"kept {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
        total = time.monotonic() - started
        order = {key: i for i, key in enumerate(ALL_SCENARIOS)}
        self.results.sort(key=lambda r: (order[r.key], r.server != "ours"))
        return self.markdown(machine, total)

    def markdown(self, machine: str, total_s: float) -> str:
        command = "bench/run " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        a = self.args
        out = [
            "# mcpdemo benchmark results",
            "",
            f"- Command: `{command.strip()}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
            f"- Code: {self.code}",
            f"- Machine: {machine}",
            f"- Settings: {a.connections} connections, {a.runs} runs × {a.duration:g} s per scenario after a "
            f"{a.warmup:g} s warm-up, medians reported; servers pinned to CPU 0, load generators to CPU 1"
            + ("" if TASKSET else " (**taskset missing: nothing pinned**)")
            + "; our server: uvicorn, 1 worker, `--no-access-log`, `DJANGO_DEBUG=0`, fresh SQLite database, "
            + "per-address rate limits raised out of reach (`MCPDEMO_RATE_LIMIT_*=1000000000/h`)"
            + "".join(f", `{name}={value}`" for name, value in a.server_env)
            + ".",
            f"- Total wall time: {total_s:.0f} s",
            "",
            results_table(self.results),
            "",
        ]
        derived = derived_lines(self.results)
        if derived:
            out += ["Derived:", "", *derived, ""]
        if self.memory:
            out += [f"Memory (scenario 8, {a.sessions:,} idle stateful sessions):", "", memory_table(self.memory), ""]
            for m in self.memory:
                steps = ", ".join(f"{n // 1000}k: {kib / 1024:.0f}" for n, kib in m.milestones)
                if steps:
                    out += [f"- {m.server}: RSS MiB after each 1,000 sessions: {steps}"]
            out += [""]
        errors = [r for r in self.results if r.errors] + [m for m in self.memory if m.errors]
        if errors or self.notes:
            out += ["Notes:", ""]
            out += [f"- {n}" for n in self.notes]
            out += [f"- Errors in {getattr(e, 'key', '8')} ({e.server}): {e.error_sample}" for e in errors]
            out += [""]
        out += ["Per run:", "", run_details(self.results), ""]
        return "\n".join(out)


def _env_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError("expected NAME=VALUE")
    return name, value


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument("--seed", action="store_true", help="also measure the Node/Express seed baseline")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured run (default 5)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--runs", type=int, default=3, help="measured runs per scenario (default 3)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up per scenario (default 3)")
    parser.add_argument(
        "--retries", type=int, default=2, help="repeat a run disturbed by other processes up to N times (default 2)"
    )
    parser.add_argument("--sessions", type=int, default=10_000, help="sessions for scenario 8 (default 10000)")
    parser.add_argument(
        "--scenarios", default="", help=f"comma list of scenarios (default all: {','.join(ALL_SCENARIOS)})"
    )
    parser.add_argument(
        "--seed-source",
        help="a checkout of the seed baseline (its server.ts and package files); required with --seed",
    )
    parser.add_argument(
        "--seed-dir",
        default=str(Path(tempfile.gettempdir()) / "seed-bench"),
        help="where the seed is copied and npm-installed",
    )
    parser.add_argument(
        "--output",
        default=str(Path(tempfile.gettempdir()) / "mcpdemo-bench-results.md"),
        help="Markdown report file, rewritten on every run (bench/results.md is the curated history)",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        type=_env_pair,
        metavar="NAME=VALUE",
        help="extra environment for our server (repeatable), e.g. DATABASE_CONN_MAX_AGE=0 for a what-if run",
    )
    parser.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (database, server logs)")
    args = parser.parse_args(argv)
    if not 1 <= args.connections <= 1000 or not 0 < args.duration <= 600 or not 1 <= args.runs <= 20:
        parser.error("connections must be 1–1000, duration 0–600 s, runs 1–20")
    if not 1 <= args.sessions <= 100_000 or not 0 < args.warmup <= 60 or not 0 <= args.retries <= 5:
        parser.error("sessions must be 1–100000, warm-up 0–60 s, retries 0–5")
    if args.seed and not args.seed_source:
        parser.error("--seed needs --seed-source PATH: a checkout of the seed baseline (not part of this repository)")
    unknown = set(filter(None, args.scenarios.split(","))) - set(ALL_SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        import uvloop
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    report = runner(Bench(args).run())
    print(report)
    Path(args.output).write_text(report + "\n")
    log(f"wrote {args.output}")
    return 1 if "Errors in" in report else 0


if __name__ == "__main__":
    sys.exit(main())
