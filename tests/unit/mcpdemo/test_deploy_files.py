"""deploy/nginx.conf and scripts/run-production say what docs/deploying.md says."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.cluster import DEPLOY_NGINX_CONF, NGINX, NGINX_MAIN, render_nginx_site
from tests.support.live_server import ROOT

SITE = {"NODE_A": "127.0.0.1:8001", "NODE_B": "127.0.0.1:8002", "LISTEN": "127.0.0.1:8080", "SERVER_NAME": "x"}


def _blocks(text: str) -> dict[str, str]:
    """``location`` blocks of the server by their match, and what is outside them."""
    locations = dict(re.findall(r"location ([^{]+?)\s*\{([^}]*)\}", text))
    return {"server": re.sub(r"location [^{]+\{[^}]*\}", "", text), **locations}


def test_no_http_status_ejects_a_node_and_only_mcp_posts_are_retried_once_sent() -> None:
    text = re.sub(r"#.*", "", DEPLOY_NGINX_CONF.read_text())
    blocks = _blocks(text)

    assert "http_50" not in text  # a 503 from a shared outage must not mark nodes down
    assert "non_idempotent" in blocks["= /mcp"]
    assert all("non_idempotent" not in body for match, body in blocks.items() if match != "= /mcp")
    assert "proxy_buffering off" in blocks["= /mcp"]
    assert (
        re.search(r"proxy_read_timeout (\d+)s", text) and int(re.search(r"proxy_read_timeout (\d+)s", text)[1]) >= 300
    )
    assert re.search(r"keepalive \d+;", text)


def test_every_placeholder_must_be_filled() -> None:
    with pytest.raises(ValueError, match="LISTEN"):
        render_nginx_site(NODE_A="a:1", NODE_B="b:1", SERVER_NAME="x")


@pytest.mark.skipif(not (shutil.which("nginx") or Path(NGINX).exists()), reason="needs nginx")
def test_the_rendered_file_is_valid_nginx_configuration(tmp_path: Path) -> None:
    site = tmp_path / "site.conf"
    site.write_text(render_nginx_site(**SITE))
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_MAIN.format(dir=tmp_path, site=site))

    result = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True)

    assert result.returncode == 0, result.stderr


def test_run_production_drains_and_does_not_collect_static_files() -> None:
    script = (ROOT / "scripts" / "run-production").read_text()
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("#"))

    assert "collectstatic" not in code
    assert "--timeout-graceful-shutdown" in code
    assert "collectstatic" in (ROOT / "scripts" / "install").read_text()
