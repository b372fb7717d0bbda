"""docs/monitoring: the Grafana dashboard and the alerting rules parse and name only metrics this service exports."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from mcpdemo import metrics
from tests.support.metrics import Samples, names

DOCS = Path(__file__).resolve().parents[3] / "docs"
METRIC_NAME = re.compile(r"\b(mcpdemo_[a-z_]+|up)\b")


def exported(metrics_on: Callable[[], Samples]) -> set[str]:
    """Every sample name /metrics can carry, from a real exposition with each metric touched."""
    metrics.record_http_request("mcp", "POST", 200, 0.01)
    metrics.record_token_check("valid")
    metrics.observe_tool_call("slugify", "ok", 0.01)
    metrics.record_token_issued("authorization_code")
    metrics.record_registration("public")
    metrics.record_rate_limit_refusal("token")
    metrics.record_outage("database", "mcp-token-check")
    return names(metrics_on()) | {"up"}  # up: Prometheus's own, per target


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((DOCS / "monitoring" / "grafana-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def alert_rules() -> list[dict[str, Any]]:
    return yaml.safe_load((DOCS / "monitoring" / "alerts.yml").read_text())["groups"][0]["rules"]


def test_the_dashboard_names_only_exported_metrics(metrics_on: Callable[[], Samples]) -> None:
    known = exported(metrics_on)
    expressions = dashboard_expressions()
    used = {name for expr in expressions for name in METRIC_NAME.findall(expr)}

    assert len(expressions) >= 15
    assert used <= known, used - known
    # Every metric has a panel.
    assert {name.removesuffix("_bucket") for name in used} >= {
        metrics.HTTP_REQUESTS, metrics.HTTP_DURATION, metrics.TOKEN_CHECKS, metrics.TOOL_CALLS, metrics.TOOL_DURATION,
        metrics.OPEN_STREAMS, metrics.TOKENS_ISSUED, metrics.REGISTRATIONS, metrics.RATE_LIMIT_REFUSALS,
        metrics.OUTAGES, metrics.WORKERS,
    }  # fmt: skip


def test_the_alerts_name_only_exported_metrics(metrics_on: Callable[[], Samples]) -> None:
    known = exported(metrics_on)
    rules = alert_rules()

    for rule in rules:
        assert set(METRIC_NAME.findall(rule["expr"])) <= known, rule["alert"]
        assert rule["labels"]["severity"] in ("page", "ticket")
        assert rule["annotations"]["summary"]
    documented = (DOCS / "monitoring.md").read_text()
    assert all(f"`{rule['alert']}" in documented for rule in rules)


def test_every_metric_is_documented() -> None:
    documented = (DOCS / "monitoring.md").read_text()
    for name in (value for key, value in vars(metrics).items() if key.isupper() and isinstance(value, str)):
        if name.startswith("mcpdemo_"):
            assert f"| `{name}` |" in documented, name
