"""The official MCP conformance suite against a real server process.

``@modelcontextprotocol/conformance`` (npm, pinned in ``tests/conformance/package.json``)
needs Node 22, which that project installs from the npm registry as the ``node`` package.
It runs here

- as an MCP client, the **server scenarios** that apply to a server whose tools are
  ``slugify`` and ``countdown``, on both protocol eras, against the server run stateful
  (one process, the default) and stateless (``MCPDEMO_MCP_STATELESS=1``, what several
  workers use). The suite has no option for credentials, so ``tests/conformance/bearer.mjs``,
  preloaded into it, adds a real access token (obtained through our own registration,
  sign-in, consent and token endpoints) to every request it sends to our origin;
- as an OAuth client, the **authorization-server scenarios**, with a client registered at
  ``/register`` and a scripted user signing in and pressing Allow.

Scenarios that need the suite's own fixtures (tools such as ``test_tool_with_progress``,
prompts, resources) or features we do not offer are excluded, each with its reason, and a
suite upgrade that adds scenarios fails ``test_every_scenario_is_run_or_excluded_with_a_reason``
until someone decides about them. A failing check fails its scenario's test.
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
from collections.abc import Callable, Iterator
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
HANDSHAKE, MODERN = "2025-11-25", "2026-07-28"
SUITE_TIMEOUT_SECONDS = 120

# Server scenarios we run, each at the protocol versions it applies to.
SERVER_SCENARIOS: dict[str, tuple[str, ...]] = {
    "server-initialize": (HANDSHAKE,),
    "ping": (HANDSHAKE,),
    "server-session-lifecycle": (HANDSHAKE,),
    "server-stateless": (MODERN,),
    "tools-list": (HANDSHAKE, MODERN),
    "server-sse-multiple-streams": (HANDSHAKE, MODERN),
    "http-header-validation": (MODERN,),
    "dns-rebinding-protection": (HANDSHAKE, MODERN),
    "caching": (MODERN,),
    "resources-list": (HANDSHAKE, MODERN),
    "prompts-list": (HANDSHAKE, MODERN),
    "sep-2164-resource-not-found": (MODERN,),
}
# Single checks of scenarios we run that cannot pass without the suite's fixture server.
_MISSING_CAPABILITY_FIXTURE = "calls the fixture tool test_missing_capability"
EXCUSED_CHECKS: dict[tuple[str, str], str] = {
    ("server-stateless", "sep-2575-server-rejects-undeclared-capability"): _MISSING_CAPABILITY_FIXTURE,
    ("server-stateless", "sep-2575-missing-capability-http-400"): _MISSING_CAPABILITY_FIXTURE,
}
# Scenarios the suite itself reports as not applicable to a server without sessions.
NOT_APPLICABLE_WHEN_STATELESS: dict[tuple[str, str], str] = {
    ("server-session-lifecycle", HANDSHAKE): "no Mcp-Session-Id: the suite reports its checks as not applicable",
    ("server-sse-multiple-streams", HANDSHAKE): "needs a session id; the suite only warns without one",
}
_FIXTURE = "needs the suite's fixture server: calls {} which our server does not have"
_NOT_OFFERED = "tests a capability our server does not declare ({})"
EXCLUDED_SCENARIOS: dict[str, str] = {
    "tools-call-with-progress": _FIXTURE.format(
        "the tool test_tool_with_progress (countdown's progress is "
        "covered by test_sdk_client.py and test_typescript_client.py)"
    ),
    "tools-call-simple-text": _FIXTURE.format("the tool test_simple_text"),
    "tools-call-image": _FIXTURE.format("the tool test_image_content"),
    "tools-call-audio": _FIXTURE.format("the tool test_audio_content"),
    "tools-call-embedded-resource": _FIXTURE.format("the tool test_embedded_resource"),
    "tools-call-mixed-content": _FIXTURE.format("the tool test_multiple_content_types"),
    "tools-call-error": _FIXTURE.format("the tool test_error_handling"),
    "tools-call-with-logging": _NOT_OFFERED.format("logging") + "; calls the fixture tool test_tool_with_logging",
    "tools-call-sampling": _FIXTURE.format("the tool test_sampling"),
    "tools-call-elicitation": _FIXTURE.format("the tool test_elicitation"),
    "elicitation-sep1034-defaults": _FIXTURE.format("the tool test_elicitation_sep1034_defaults"),
    "elicitation-sep1330-enums": _FIXTURE.format("the tool test_elicitation_sep1330_enums"),
    "json-schema-2020-12": _FIXTURE.format("the tool json_schema_2020_12_tool"),
    "server-sse-polling": _FIXTURE.format("the tool test_reconnection"),
    "resources-read-text": _FIXTURE.format("the resource test://static-text"),
    "resources-read-binary": _FIXTURE.format("the resource test://static-binary"),
    "resources-templates-read": _FIXTURE.format("the template test://template/{id}/data"),
    "resources-subscribe": _NOT_OFFERED.format("resources.subscribe"),
    "resources-unsubscribe": _NOT_OFFERED.format("resources.subscribe"),
    "prompts-get-simple": _FIXTURE.format("the prompt test_simple_prompt"),
    "prompts-get-with-args": _FIXTURE.format("the prompt test_prompt_with_arguments"),
    "prompts-get-embedded-resource": _FIXTURE.format("the prompt test_prompt_with_embedded_resource"),
    "prompts-get-with-image": _FIXTURE.format("the prompt test_prompt_with_image"),
    "logging-set-level": _NOT_OFFERED.format("logging"),
    "completion-complete": _NOT_OFFERED.format("completions"),
    "http-custom-header-server-validation": "needs a tool with x-mcp-header annotations; ours have none",
}
EXCLUDED_PREFIXES: dict[str, str] = {
    "input-required-result-": _FIXTURE.format(
        "the test_input_required_result_* tools and prompt (our tools never ask the client for input)"
    ),
    "tasks-": "tests the io.modelcontextprotocol/tasks extension, which we do not offer",
    "sep-2640-skills-": "tests the io.modelcontextprotocol/skills extension, which we do not offer",
}
AUTHORIZATION_SCENARIOS = ("authorization-server-metadata-endpoint", "authorization-code-grant")


def require_suite() -> None:
    if not (NODE.is_file() and CLI.is_file()):
        pytest.fail("tests/conformance/node_modules is missing: run `npm ci --prefix tests/conformance` "
                    "(scripts/test does it)")  # fmt: skip


def suite_command(*args: str, preload: Path | None = None) -> list[str]:
    return [str(NODE), *(["--import", preload.as_uri()] if preload else []), str(CLI), *args]


def listed_scenarios(kind: str) -> list[str]:
    """Scenario names from ``conformance list --<kind>``."""
    require_suite()
    result = subprocess.run(suite_command("list", f"--{kind}"), capture_output=True, text=True, check=True, timeout=60)
    return re.findall(r"^\s+- (\S+)", result.stdout, flags=re.MULTILINE)


def exclusion_reason(scenario: str) -> str | None:
    if scenario in EXCLUDED_SCENARIOS:
        return EXCLUDED_SCENARIOS[scenario]
    return next((reason for prefix, reason in EXCLUDED_PREFIXES.items() if scenario.startswith(prefix)), None)


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
    version: str
    returncode: int
    output: str
    checks: list[dict[str, Any]]

    def failures(self) -> list[dict[str, Any]]:
        return [
            check
            for check in self.checks
            if check["status"] == "FAILURE" and (self.scenario, check["id"]) not in EXCUSED_CHECKS
        ]

    def describe(self, checks: list[dict[str, Any]]) -> str:
        lines = [f"{c['id']}: {c.get('errorMessage')} {json.dumps(c.get('details'))[:400]}" for c in checks]
        return "\n".join(lines) + f"\n--- suite output ---\n{self.output[-4000:]}"


def run_server_scenario(server: LiveServer, token: str, scenario: str, version: str, out: Path) -> ScenarioRun:
    command = suite_command("server", "--url", server.url + "/mcp", "--scenario", scenario, "--spec-version", version,
                            "-o", str(out), preload=BEARER_PRELOAD)  # fmt: skip
    env = {**os.environ, "MCP_CONFORMANCE_BEARER": token, "MCP_CONFORMANCE_ORIGIN": server.url, "NO_COLOR": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=SUITE_TIMEOUT_SECONDS)
    (checks_file,) = out.glob("*/checks.json") or [None]
    checks = json.loads(checks_file.read_text()) if checks_file else []
    return ScenarioRun(scenario, version, result.returncode, result.stdout + result.stderr, checks)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], LiveServer]]:
    """One live server per mode, started when first asked for, stopped at the end of the module."""
    started: dict[str, LiveServer] = {}
    with ExitStack() as stack:

        def server(mode: str) -> LiveServer:
            if mode not in started:
                directory = tmp_path_factory.mktemp(f"conformance-{mode}")
                env = {**UNLIMITED, **SERVER_MODES[mode]}
                started[mode] = stack.enter_context(live_server(directory, {"alice": PASSWORD}, **env))
            return started[mode]

        yield server


@pytest.fixture(scope="module")
def server_runs(
    servers: Callable[[str], LiveServer], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], dict[tuple[str, str], ScenarioRun]]:
    """Every selected server scenario against the server of a mode, run in parallel, once."""
    results: dict[str, dict[tuple[str, str], ScenarioRun]] = {}

    def runs(mode: str) -> dict[tuple[str, str], ScenarioRun]:
        if mode not in results:
            require_suite()
            server = servers(mode)
            token = access_token_for(server)
            out = tmp_path_factory.mktemp(f"results-{mode}")
            selected = [(scenario, version) for scenario, versions in SERVER_SCENARIOS.items() for version in versions]
            selected.sort(key=lambda run: run[0] != "server-stateless")  # the slowest (~6 s) first
            # Each run is a Node process (~1 s of CPU to start); more workers than cores only adds contention.
            with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
                futures = {
                    (scenario, version): pool.submit(
                        run_server_scenario, server, token, scenario, version, out / f"{scenario}@{version}"
                    )
                    for scenario, version in selected
                }
                results[mode] = {key: future.result() for key, future in futures.items()}
        return results[mode]

    return runs


def test_the_suite_is_the_pinned_version_on_node_22() -> None:
    require_suite()
    installed = json.loads((SUITE / "package.json").read_text())["version"]
    node_version = subprocess.run([str(NODE), "--version"], capture_output=True, text=True, check=True).stdout

    assert installed == SUITE_VERSION
    assert node_version.startswith("v22.")


def test_every_scenario_is_run_or_excluded_with_a_reason() -> None:
    undecided = [s for s in listed_scenarios("server") if s not in SERVER_SCENARIOS and exclusion_reason(s) is None]

    assert undecided == [], "new conformance scenarios: add them to SERVER_SCENARIOS or exclude them with a reason"
    assert set(SERVER_SCENARIOS) <= set(listed_scenarios("server"))
    assert listed_scenarios("authorization") == list(AUTHORIZATION_SCENARIOS)


@pytest.mark.parametrize("mode", list(SERVER_MODES))
@pytest.mark.parametrize(
    ("scenario", "version"),
    [(scenario, version) for scenario, versions in SERVER_SCENARIOS.items() for version in versions],
    ids=[f"{scenario}@{version}" for scenario, versions in SERVER_SCENARIOS.items() for version in versions],
)
def test_server_scenario_passes(
    server_runs: Callable[[str], dict[tuple[str, str], ScenarioRun]], mode: str, scenario: str, version: str
) -> None:
    run = server_runs(mode)[(scenario, version)]

    assert run.checks, f"the suite wrote no checks:\n{run.output[-4000:]}"
    assert run.failures() == [], run.describe(run.failures())
    if mode == "stateless" and (scenario, version) in NOT_APPLICABLE_WHEN_STATELESS:
        assert not any(check["status"] == "SUCCESS" and check["id"] != "wire-schema-valid" for check in run.checks)
    else:
        assert any(check["status"] == "SUCCESS" for check in run.checks), run.describe(run.checks)
    if not any((scenario, check["id"]) in EXCUSED_CHECKS for check in run.checks):
        assert run.returncode == 0, run.output[-4000:]


def _read_lines(stream: Any, lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def test_authorization_server_scenarios_pass(servers: Callable[[str], LiveServer], tmp_path: Path) -> None:
    """The suite's OAuth client: metadata, then an authorization-code grant with PKCE and
    ``resource``, whose sign-in and consent a scripted user does at our real pages."""
    require_suite()
    server = servers("stateful")
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
