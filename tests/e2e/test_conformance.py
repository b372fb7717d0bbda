"""The official MCP conformance suite against real server processes.

``@modelcontextprotocol/conformance`` (npm, pinned in ``tests/conformance/package.json``)
needs Node 22, which that project installs from the npm registry as the ``node`` package.
It runs here

- as an MCP client, **every server scenario**, at each protocol era it applies to
  (2025-11-25 for the handshake era, 2026-07-28, and extension scenarios at the suite's
  default), against a server started with the suite's fixtures
  (``tests/support/conformance_fixtures.py``, loaded through ``MCPDEMO_MCP_EXTENSIONS``),
  run stateful (one process, the default) and stateless (``MCPDEMO_MCP_STATELESS=1``);
- the same suite against the **product** (only ``slugify`` and ``countdown``, no fixtures),
  where the scenarios that need nothing of the fixtures must pass;
- as an OAuth client, the **authorization-server scenarios**, with a client registered at
  ``/register`` and a scripted user signing in and pressing Allow.

The suite has no option for credentials, so ``tests/conformance/bearer.mjs``, preloaded into
it, adds a real access token (obtained through our own registration, sign-in, consent and
token endpoints) to every request it sends to our origin.

A scenario that cannot pass has an entry in ``EXPECTED`` with its failing checks and the
reason; the test asserts the suite's failing checks are exactly those, so a new failure and
a newly passing check both fail the test until the table (and docs/conformance.md) says so.
A suite upgrade that adds or moves scenarios fails ``test_every_scenario_is_run``.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.support.live_server import ROOT, LiveServer, free_port, live_server
from tests.support.oauth import pkce_pair
from tests.support.scripted_user import ScriptedUser

pytestmark = [pytest.mark.e2e, pytest.mark.node]

PROJECT = ROOT / "tests" / "conformance"
NODE = PROJECT / "node_modules" / ".bin" / "node"
SUITE = PROJECT / "node_modules" / "@modelcontextprotocol" / "conformance"
CLI = SUITE / "dist" / "index.js"
BEARER_PRELOAD = PROJECT / "bearer.mjs"
SUITE_VERSION = json.loads((PROJECT / "package.json").read_text())["dependencies"]["@modelcontextprotocol/conformance"]

PASSWORD = "conformance password 123"
UNLIMITED = {"MCPDEMO_RATE_LIMIT_TOKEN": "", "MCPDEMO_RATE_LIMIT_REGISTER": "", "MCPDEMO_RATE_LIMIT_LOGIN": ""}
SERVER_MODES = {"stateful": {"MCPDEMO_MCP_STATELESS": "0"}, "stateless": {"MCPDEMO_MCP_STATELESS": "1"}}
FIXTURES = "tests.support.conformance_fixtures"
SERVER_KINDS = {
    "product": {},
    "fixtures": {
        "MCPDEMO_MCP_EXTENSIONS": f"{FIXTURES}.register",
        "MCPDEMO_MCP_TOOLS": f"mcpapp.tools.SLUGIFY,mcpapp.tools.COUNTDOWN,{FIXTURES}.JSON_SCHEMA_2020_12_TOOL",
    },
}
HANDSHAKE, MODERN, EXTENSION = "2025-11-25", "2026-07-28", "extension"
SUITE_TIMEOUT_SECONDS = 240  # one suite process runs its scenarios one after another
SCENARIO_TIMEOUT_MS = "20000"

# Every server scenario of the suite, with the eras we run it at: HANDSHAKE when it
# applies to any version before 2026-07-28, MODERN when it applies to 2026-07-28, and
# EXTENSION (no --spec-version: the suite's default, 2026-07-28) for extension scenarios.
SERVER_SCENARIOS: dict[str, tuple[str, ...]] = {
    "server-initialize": (HANDSHAKE,),
    "server-session-lifecycle": (HANDSHAKE,),
    "server-stateless": (MODERN,),
    "logging-set-level": (HANDSHAKE,),
    "ping": (HANDSHAKE,),
    "completion-complete": (HANDSHAKE, MODERN),
    "tools-list": (HANDSHAKE, MODERN),
    "tools-call-simple-text": (HANDSHAKE, MODERN),
    "tools-call-image": (HANDSHAKE, MODERN),
    "tools-call-audio": (HANDSHAKE, MODERN),
    "tools-call-embedded-resource": (HANDSHAKE, MODERN),
    "tools-call-mixed-content": (HANDSHAKE, MODERN),
    "tools-call-with-logging": (HANDSHAKE,),
    "tools-call-error": (HANDSHAKE, MODERN),
    "tools-call-with-progress": (HANDSHAKE, MODERN),
    "tools-call-sampling": (HANDSHAKE,),
    "tools-call-elicitation": (HANDSHAKE,),
    "json-schema-2020-12": (HANDSHAKE, MODERN),
    "elicitation-sep1034-defaults": (HANDSHAKE,),
    "server-sse-polling": (HANDSHAKE,),
    "server-sse-multiple-streams": (HANDSHAKE, MODERN),
    "elicitation-sep1330-enums": (HANDSHAKE,),
    "resources-list": (HANDSHAKE, MODERN),
    "resources-read-text": (HANDSHAKE, MODERN),
    "resources-read-binary": (HANDSHAKE, MODERN),
    "resources-templates-read": (HANDSHAKE, MODERN),
    "resources-subscribe": (HANDSHAKE,),
    "resources-unsubscribe": (HANDSHAKE,),
    "sep-2164-resource-not-found": (MODERN,),
    "sep-2640-skills-directory": (EXTENSION,),
    "sep-2640-skills-enumeration": (EXTENSION,),
    "sep-2640-skills-manifest": (EXTENSION,),
    "prompts-list": (HANDSHAKE, MODERN),
    "prompts-get-simple": (HANDSHAKE, MODERN),
    "prompts-get-with-args": (HANDSHAKE, MODERN),
    "prompts-get-embedded-resource": (HANDSHAKE, MODERN),
    "prompts-get-with-image": (HANDSHAKE, MODERN),
    "dns-rebinding-protection": (HANDSHAKE, MODERN),
    "caching": (MODERN,),
    "http-header-validation": (MODERN,),
    "http-custom-header-server-validation": (MODERN,),
    "tasks-lifecycle": (EXTENSION,),
    "tasks-capability-negotiation": (EXTENSION,),
    "tasks-wire-fields": (EXTENSION,),
    "tasks-request-state-removal": (EXTENSION,),
    "tasks-mrtr-input": (EXTENSION,),
    "tasks-request-headers": (EXTENSION,),
    "tasks-dispatch-and-envelope": (EXTENSION,),
    "tasks-status-notifications": (EXTENSION,),
    "tasks-required-task-error": (EXTENSION,),
    "tasks-mrtr-composition": (EXTENSION,),
    "input-required-result-basic-elicitation": (MODERN,),
    "input-required-result-basic-sampling": (MODERN,),
    "input-required-result-basic-list-roots": (MODERN,),
    "input-required-result-request-state": (MODERN,),
    "input-required-result-multiple-input-requests": (MODERN,),
    "input-required-result-multi-round": (MODERN,),
    "input-required-result-missing-input-response": (MODERN,),
    "input-required-result-non-tool-request": (MODERN,),
    "input-required-result-result-type": (MODERN,),
    "input-required-result-unsupported-methods": (MODERN,),
    "input-required-result-tampered-state": (MODERN,),
    "input-required-result-capability-check": (MODERN,),
    "input-required-result-ignore-extra-params": (MODERN,),
    "input-required-result-validate-input": (MODERN,),
}
RUNS = [(scenario, era) for scenario, eras in SERVER_SCENARIOS.items() for era in eras]

# What the product alone (slugify and countdown, no fixtures) must pass: the scenarios that
# call nothing it lacks.
PRODUCT_RUNS = [
    (scenario, era)
    for scenario, era in RUNS
    if scenario
    in {
        "server-initialize",
        "ping",
        "server-session-lifecycle",
        "server-stateless",
        "tools-list",
        "server-sse-multiple-streams",
        "http-header-validation",
        "dns-rebinding-protection",
        "caching",
        "resources-list",
        "prompts-list",
        "sep-2164-resource-not-found",
    }
]


@dataclass(frozen=True)
class Expected:
    """What a scenario gives when it cannot pass: the checks that fail (``failing``), or no
    verdict at all (``no_verdict``: only INFO, WARNING or SKIPPED besides wire-schema-valid)."""

    reason: str
    failing: frozenset[str] = frozenset()
    no_verdict: bool = False


BOTH_MODES = tuple(SERVER_MODES)
_NO_BACK_CHANNEL = (
    "stateless: a server-to-client request needs a channel back to the client, which a server "
    "without sessions does not have in the handshake era; the tool gets the SDK's NoBackChannelError "
    "(JSON-RPC -32600), no hang. The 2026-07-28 way, input-required results, passes in both modes"
)
_TASKS = "the io.modelcontextprotocol/tasks extension: the mcp SDK 2.3.0 does not implement it (no tasks/* methods)"
_SKILLS = "the io.modelcontextprotocol/skills extension, which the SDK does not implement: the suite skips its checks"
_NO_EVENT_STORE = (
    "the suite only warns (no priming event, no retry field: SHOULDs for resumability) because /mcp "
    "configures no SDK EventStore, so a closed stream cannot be resumed; it gives no SUCCESS"
)


def _expect(runs: dict[tuple[str, str], Expected], modes: tuple[str, ...] = BOTH_MODES) -> dict:
    return {(scenario, era, mode): expected for (scenario, era), expected in runs.items() for mode in modes}


# (scenario, era, mode) → what the fixtures server gives where it cannot pass.
EXPECTED: dict[tuple[str, str, str], Expected] = {
    **_expect(
        {
            ("tools-call-sampling", HANDSHAKE): Expected(_NO_BACK_CHANNEL, frozenset({"tools-call-sampling"})),
            ("tools-call-elicitation", HANDSHAKE): Expected(_NO_BACK_CHANNEL, frozenset({"tools-call-elicitation"})),
            ("elicitation-sep1034-defaults", HANDSHAKE): Expected(
                _NO_BACK_CHANNEL, frozenset({"elicitation-sep1034-general"})
            ),
            ("elicitation-sep1330-enums", HANDSHAKE): Expected(
                _NO_BACK_CHANNEL, frozenset({"elicitation-sep1330-general"})
            ),
            ("server-session-lifecycle", HANDSHAKE): Expected(
                "stateless: no Mcp-Session-Id, so the suite reports its checks as not applicable", no_verdict=True
            ),
            ("server-sse-multiple-streams", HANDSHAKE): Expected(
                "stateless: needs a session id; the suite only warns without one", no_verdict=True
            ),
        },
        ("stateless",),
    ),
    **_expect({("server-sse-polling", HANDSHAKE): Expected(_NO_EVENT_STORE, no_verdict=True)}),
    **_expect(
        {
            ("sep-2640-skills-directory", EXTENSION): Expected(_SKILLS, no_verdict=True),
            ("sep-2640-skills-enumeration", EXTENSION): Expected(_SKILLS, no_verdict=True),
            ("sep-2640-skills-manifest", EXTENSION): Expected(_SKILLS, no_verdict=True),
            ("tasks-status-notifications", EXTENSION): Expected(_TASKS, no_verdict=True),
            ("tasks-lifecycle", EXTENSION): Expected(
                _TASKS,
                frozenset(
                    {
                        "sep-2663-result-type-task-on-create",
                        "sep-2663-tasks-get-status-working",
                        "sep-2663-tasks-get-status-completed",
                        "sep-2663-tool-error-uses-completed-status",
                        "sep-2663-tasks-get-status-failed",
                        "sep-2663-cancel-ack-empty-result",
                        "tasks-cancel-terminal-idempotent-ack",
                    }
                ),
            ),
            ("tasks-capability-negotiation", EXTENSION): Expected(
                _TASKS,
                frozenset(
                    {
                        "tasks-extension-advertised",
                        "sep-2663-tasks-methods-non-declaring",
                        "tasks-per-request-meta-opt-in",
                    }
                ),
            ),
            ("tasks-wire-fields", EXTENSION): Expected(
                _TASKS,
                frozenset(
                    {
                        "tasks-wire-field-renames",
                        "tasks-no-early-ttl-expiry",
                        "tasks-no-related-task-meta-on-inlined-result",
                    }
                ),
            ),
            ("tasks-request-state-removal", EXTENSION): Expected(
                _TASKS, frozenset({"tasks-request-state-removal-setup"})
            ),
            ("tasks-mrtr-input", EXTENSION): Expected(
                _TASKS,
                frozenset(
                    {
                        "sep-2663-tasks-get-status-input-required",
                        "tasks-mrtr-tasks-update-resumes",
                        "tasks-mrtr-partial-fulfillment",
                    }
                ),
            ),
            ("tasks-request-headers", EXTENSION): Expected(
                _TASKS,
                frozenset(
                    {
                        "tasks-headers-tolerate-mcp-method-on-tools-call",
                        "sep-2663-routing-headers-accepted-on-tasks-get",
                        "sep-2663-server-rejects-mismatched-mcp-name-on-tasks-get",
                    }
                ),
            ),
            ("tasks-dispatch-and-envelope", EXTENSION): Expected(
                _TASKS,
                frozenset(
                    {
                        "tasks-server-directed-creation-no-hint",
                        "sep-2663-durable-create-strong-consistency",
                        "sep-2663-tasks-get-invalid-task-id-32602",
                    }
                ),
            ),
            ("tasks-required-task-error", EXTENSION): Expected(
                _TASKS, frozenset({"sep-2663-server-returns-missing-capability-when-required"})
            ),
            ("tasks-mrtr-composition", EXTENSION): Expected(
                _TASKS, frozenset({"sep-2663-mrtr-synchronous-before-task-creation"})
            ),
        }
    ),
}
_MISSING_CAPABILITY_FIXTURE = "calls the fixture tool test_missing_capability, which the product does not have"
PRODUCT_EXPECTED: dict[tuple[str, str, str], Expected] = {
    **_expect(
        {
            ("server-stateless", MODERN): Expected(
                _MISSING_CAPABILITY_FIXTURE,
                frozenset({"sep-2575-server-rejects-undeclared-capability", "sep-2575-missing-capability-http-400"}),
            )
        }
    ),
    **{key: value for key, value in EXPECTED.items() if key[:2] in set(PRODUCT_RUNS) and value.no_verdict},
}
AUTHORIZATION_SCENARIOS = ("authorization-server-metadata-endpoint", "authorization-code-grant")


def require_suite() -> None:
    if not (NODE.is_file() and CLI.is_file()):
        pytest.fail("tests/conformance/node_modules is missing: run `npm ci --prefix tests/conformance` "
                    "(scripts/test does it)")  # fmt: skip


def suite_command(*args: str, preload: Path | None = None) -> list[str]:
    return [str(NODE), *(["--import", preload.as_uri()] if preload else []), str(CLI), *args]


def listed_scenarios(kind: str) -> dict[str, list[str]]:
    """Scenario names from ``conformance list --<kind>``, each with the versions the suite gives it."""
    require_suite()
    result = subprocess.run(suite_command("list", f"--{kind}"), capture_output=True, text=True, check=True, timeout=60)
    return {
        name: versions.split(",")
        for name, versions in re.findall(r"^\s+- (\S+)(?: \[([^\]]*)\])?", result.stdout, flags=re.MULTILINE)
    }


def eras_of(versions: list[str]) -> tuple[str, ...]:
    """The eras we run a scenario at, from the versions the suite lists for it."""
    if versions == [EXTENSION]:
        return (EXTENSION,)
    handshake = (HANDSHAKE,) if any(version < MODERN for version in versions) else ()
    return handshake + ((MODERN,) if MODERN in versions else ())


def access_token_for(server: LiveServer) -> str:
    """A real access token for alice: registration, sign-in and consent, code exchange."""
    redirect_uri = "http://127.0.0.1:33418/"
    registration = {"client_name": "conformance", "redirect_uris": [redirect_uri], "token_endpoint_auth_method": "none"}
    client_id = httpx.post(server.url + "/register", json=registration).json()["client_id"]
    verifier, challenge = pkce_pair()
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": "mcp",
                       "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"})  # fmt: skip
    code = asyncio.run(ScriptedUser("alice", PASSWORD).authorize(f"{server.url}/authorize?{query}"))["code"]
    form = {"grant_type": "authorization_code", "client_id": client_id, "code": code, "redirect_uri": redirect_uri,
            "code_verifier": verifier, "resource": server.url + "/mcp"}  # fmt: skip
    response = httpx.post(server.url + "/token", data=form)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@dataclass
class ScenarioRun:
    scenario: str
    era: str
    checks: list[dict[str, Any]]
    output: str

    def failing(self) -> set[str]:
        return {check["id"] for check in self.checks if check["status"] == "FAILURE"}

    def passed(self) -> set[str]:
        return {check["id"] for check in self.checks if check["status"] == "SUCCESS"} - {"wire-schema-valid"}

    def describe(self) -> str:
        lines = [
            f"{c['id']}: {c['status']} {c.get('errorMessage') or ''} {json.dumps(c.get('details'))[:300]}"
            for c in self.checks
            if c["status"] != "SUCCESS"
        ]
        return "\n".join(lines) + f"\n--- suite output (end) ---\n{self.output[-3000:]}"


def _scenario_of(directory: str, scenarios: set[str]) -> str | None:
    """``server-<scenario>-<timestamp>``, the suite's result directory, to its scenario name."""
    match = re.fullmatch(r"server-(.+)-\d{4}-\d\d-\d\dT[\d-]+Z", directory)
    return match.group(1) if match and match.group(1) in scenarios else None


def run_suite(server: LiveServer, token: str, era: str, out: Path) -> dict[tuple[str, str], ScenarioRun]:
    """One suite process: every scenario of ``era`` (``--suite all``), one after another.

    One Node process per era costs a fraction of one per scenario. The extension scenarios
    have no spec version, so that run is the whole suite at its defaults, of which only the
    extension scenarios are kept (the others ran at their versions already).
    """
    version = [] if era == EXTENSION else ["--spec-version", era]
    command = suite_command("server", "--url", server.url + "/mcp", "--suite", "all", *version,
                            "--timeout", SCENARIO_TIMEOUT_MS, "-o", str(out), preload=BEARER_PRELOAD)  # fmt: skip
    env = {**os.environ, "MCP_CONFORMANCE_BEARER": token, "MCP_CONFORMANCE_ORIGIN": server.url, "NO_COLOR": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=SUITE_TIMEOUT_SECONDS)
    wanted = {scenario for scenario, eras in SERVER_SCENARIOS.items() if era in eras}
    runs: dict[tuple[str, str], ScenarioRun] = {}
    for checks_file in out.glob("*/checks.json"):
        scenario = _scenario_of(checks_file.parent.name, wanted)
        if scenario is not None:
            checks = json.loads(checks_file.read_text())
            runs[(scenario, era)] = ScenarioRun(
                scenario, era, checks, _section(result.stdout + result.stderr, scenario)
            )
    return runs


def _section(output: str, scenario: str) -> str:
    """The part of a suite run's output about one scenario (it announces each one)."""
    parts = re.split(r"^(?==== Running scenario: )", output, flags=re.MULTILINE)
    return next((part for part in parts if part.startswith(f"=== Running scenario: {scenario} ===")), output)


ServerKey = tuple[str, str]  # (kind, mode)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[ServerKey, LiveServer]]:
    """The product and the fixtures server, each stateful and stateless, started together."""
    require_suite()

    def enter(kind: str, mode: str, directory: Path) -> tuple[Any, LiveServer]:
        manager = live_server(directory, {"alice": PASSWORD}, **UNLIMITED, **SERVER_KINDS[kind], **SERVER_MODES[mode])
        return manager, manager.__enter__()

    # mktemp here, not in the threads: the factory's first call sets up its base directory.
    directories = {
        (kind, mode): tmp_path_factory.mktemp(f"conformance-{kind}-{mode}")
        for kind in SERVER_KINDS
        for mode in SERVER_MODES
    }

    started: dict[ServerKey, LiveServer] = {}
    with ExitStack() as stack:
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = {key: pool.submit(enter, *key, directory) for key, directory in directories.items()}
        errors = [future.exception() for future in futures.values() if future.exception() is not None]
        for key, future in futures.items():
            if future.exception() is None:
                manager, started[key] = future.result()
                stack.push(manager)  # stopped at the end of the module
        if errors:
            raise errors[0]
        yield started


@pytest.fixture(scope="module")
def results(
    servers: dict[ServerKey, LiveServer], tmp_path_factory: pytest.TempPathFactory
) -> dict[ServerKey, dict[tuple[str, str], ScenarioRun]]:
    """Every era of the suite against every server, the suite processes in parallel, once."""
    tokens = {key: access_token_for(server) for key, server in servers.items()}
    jobs = [
        (key, era)
        for key in servers
        for era in (HANDSHAKE, MODERN, EXTENSION)
        if key[0] == "fixtures" or era != EXTENSION
    ]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {
            (key, era): pool.submit(
                run_suite, servers[key], tokens[key], era, tmp_path_factory.mktemp(f"results-{key[0]}-{key[1]}-{era}")
            )
            for key, era in jobs
        }
        collected: dict[ServerKey, dict[tuple[str, str], ScenarioRun]] = {key: {} for key in servers}
        for (key, _era), future in futures.items():
            collected[key].update(future.result())
    return collected


def test_the_suite_is_the_pinned_version_on_node_22() -> None:
    require_suite()
    installed = json.loads((SUITE / "package.json").read_text())["version"]
    node_version = subprocess.run([str(NODE), "--version"], capture_output=True, text=True, check=True).stdout

    assert installed == SUITE_VERSION
    assert node_version.startswith("v22.")


def test_every_scenario_is_run() -> None:
    listed = {name: eras_of(versions) for name, versions in listed_scenarios("server").items()}

    assert listed == SERVER_SCENARIOS, "the suite's scenarios changed: update SERVER_SCENARIOS and EXPECTED"
    assert set(listed_scenarios("authorization")) == set(AUTHORIZATION_SCENARIOS)
    assert {key[:2] for key in EXPECTED} <= set(RUNS)
    assert {key[:2] for key in PRODUCT_EXPECTED} <= set(PRODUCT_RUNS)


def check_run(run: ScenarioRun | None, expected: Expected | None) -> None:
    assert run is not None and run.checks, "the suite wrote no checks for this scenario"
    if expected is None:
        assert run.failing() == set(), run.describe()
        assert run.passed(), f"no check passed:\n{run.describe()}"
    elif expected.no_verdict:
        assert run.failing() == set() and run.passed() == set(), (
            f"expected no verdict ({expected.reason}); the suite now says:\n{run.describe()}"
        )
    else:
        assert run.failing() == set(expected.failing), (
            f"expected exactly {sorted(expected.failing)} to fail ({expected.reason}); "
            f"update EXPECTED and docs/conformance.md:\n{run.describe()}"
        )


@pytest.mark.parametrize("mode", list(SERVER_MODES))
@pytest.mark.parametrize(("scenario", "era"), RUNS, ids=[f"{scenario}@{era}" for scenario, era in RUNS])
def test_server_scenario_with_fixtures(
    results: dict[ServerKey, dict[tuple[str, str], ScenarioRun]], mode: str, scenario: str, era: str
) -> None:
    check_run(results[("fixtures", mode)].get((scenario, era)), EXPECTED.get((scenario, era, mode)))


@pytest.mark.parametrize("mode", list(SERVER_MODES))
@pytest.mark.parametrize(("scenario", "era"), PRODUCT_RUNS, ids=[f"{scenario}@{era}" for scenario, era in PRODUCT_RUNS])
def test_server_scenario_on_the_product(
    results: dict[ServerKey, dict[tuple[str, str], ScenarioRun]], mode: str, scenario: str, era: str
) -> None:
    check_run(results[("product", mode)].get((scenario, era)), PRODUCT_EXPECTED.get((scenario, era, mode)))


def _read_lines(stream: Any, lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def test_authorization_server_scenarios_pass(servers: dict[ServerKey, LiveServer], tmp_path: Path) -> None:
    """The suite's OAuth client: metadata, then an authorization-code grant with PKCE and
    ``resource``, whose sign-in and consent a scripted user does at our real pages."""
    require_suite()
    server = servers[("product", "stateful")]
    port = free_port()
    redirect_uri = f"http://127.0.0.1:{port}/callback"
    registration = {"client_name": "MCP conformance suite", "redirect_uris": [redirect_uri],
                    "token_endpoint_auth_method": "none"}  # fmt: skip
    client_id = httpx.post(server.url + "/register", json=registration).json()["client_id"]
    command = suite_command("authorization", "--url", server.url, "--client-id", client_id,
                            "--resource", server.url + "/mcp", "--port", str(port), "-o", str(tmp_path))  # fmt: skip
    user = ScriptedUser("alice", PASSWORD)
    output: list[str] = []
    lines: queue.Queue[str | None] = queue.Queue()
    deadline = time.monotonic() + SUITE_TIMEOUT_SECONDS
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, "NO_COLOR": "1"}) as suite:  # fmt: skip
        threading.Thread(target=_read_lines, args=(suite.stdout, lines), daemon=True).start()
        try:
            while (line := lines.get(timeout=max(0.1, deadline - time.monotonic()))) is not None:
                output.append(line)
                if line.startswith(server.url + "/authorize?"):
                    # The suite waits at its callback server; the user's browser is sent there.
                    asyncio.run(user.authorize(line.strip()))
                    _deliver(user.redirects[-1])
            returncode = suite.wait(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            if suite.poll() is None:
                suite.kill()

    checks = {check["id"]: check for path in tmp_path.glob("*/checks.json") for check in json.loads(path.read_text())}
    text = "".join(output)
    assert returncode == 0, text
    assert user.redirects and user.redirects[-1].startswith(redirect_uri + "?")
    assert {check_id: check["status"] for check_id, check in checks.items()} == {
        "authorization-server-metadata": "SUCCESS",
        "authorization-server-metadata-cimd": "SUCCESS",
        "authorization-code-grant": "SUCCESS",
    }, text


def _deliver(callback_url: str) -> None:
    """GET the suite's callback URL, waiting briefly for its listener to be up."""
    for _ in range(50):
        try:
            response = httpx.get(callback_url, timeout=10)
            assert response.status_code == 200, response.text
            return
        except httpx.ConnectError:
            time.sleep(0.1)
    raise AssertionError(f"the suite's callback server never answered at {callback_url}")
