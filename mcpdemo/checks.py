"""System checks for the deployment as a whole (``manage.py check --deploy``).

| id | finding |
|---|---|
| mcpdemo.W001 | debug is off and ``collectstatic`` has not run: pages use the unhashed source files |
| mcpdemo.W002 | debug is off and ``MCPDEMO_PUBLIC_URL`` is not https: tokens and cookies travel in clear |
| mcpdemo.W003 | debug is off, several processes serve (``MCPDEMO_WORKERS`` > 1 or stateless MCP), no ``REDIS_URL`` |
| mcpdemo.E001 | an entry of ``MCPDEMO_METRICS_ALLOWED_NETWORKS`` is not an address or CIDR network |
| mcpdemo.E002 | *deploy*: metrics on, ``MCPDEMO_WORKERS`` > 1, no ``PROMETHEUS_MULTIPROC_DIR`` |
| mcpdemo.E003 | metrics on and ``PROMETHEUS_MULTIPROC_DIR`` cannot be used (not a directory, or not writable) |
| mcpdemo.W004 | metrics on, neither ``MCPDEMO_METRICS_ALLOWED_NETWORKS`` nor ``MCPDEMO_METRICS_TOKEN``: no reader |
| mcpdemo.W005 | ``MCPDEMO_METRICS_TOKEN`` is shorter than 32 characters |
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from .conf import conf
from .metrics_access import invalid_networks

MIN_METRICS_TOKEN_LENGTH = 32


@register(Tags.staticfiles, deploy=True)
def check_static_files_collected(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.DEBUG or getattr(staticfiles_storage, "hashed_files", True):
        return []
    return [
        Warning(
            "Static files are not collected: pages use the source files, unhashed and with short caching.",
            hint="Run manage.py collectstatic (scripts/run-production does) before serving.",
            id="mcpdemo.W001",
        )
    ]


@register(Tags.security, deploy=True)
def check_public_url_is_https(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    public_url = getattr(settings, "MCPDEMO_PUBLIC_URL", "")
    if settings.DEBUG or not public_url or public_url.startswith("https://"):
        return []
    return [
        Warning(
            f"MCPDEMO_PUBLIC_URL is {public_url}: access tokens, codes and session cookies would cross the "
            "network in clear, and cookies are not marked Secure.",
            hint="Serve over https (a TLS-terminating proxy in front) and set MCPDEMO_PUBLIC_URL to the https origin.",
            id="mcpdemo.W002",
        )
    ]


@register(Tags.caches, deploy=True)
def check_shared_cache_for_several_processes(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    # The worker count is scripts/run-production's (MCPDEMO_WORKERS), not a Django setting: read when checked.
    several = _workers() > 1 or getattr(settings, "MCPDEMO_MCP_STATELESS", False)
    shared = bool(getattr(settings, "REDIS_URL", ""))
    if settings.DEBUG or not several or shared:
        return []
    return [
        Warning(
            "Several processes serve requests (MCPDEMO_WORKERS > 1 or stateless MCP) but REDIS_URL is unset: each "
            "keeps its own cache, so every rate limit is multiplied by the number of processes.",
            hint="Set REDIS_URL to a Redis every worker and node shares.",
            id="mcpdemo.W003",
        )
    ]


def _workers() -> int:
    workers = os.environ.get("MCPDEMO_WORKERS", "1").strip() or "1"
    return int(workers) if workers.isdigit() else 1


@register(Tags.security)
def check_metrics_access(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = [
        Error(
            f"MCPDEMO_METRICS_ALLOWED_NETWORKS has {entry!r}, which is neither an address nor a network.",
            hint="Use addresses or CIDR networks, comma-separated, e.g. 10.0.0.0/8,2001:db8::/32.",
            id="mcpdemo.E001",
        )
        for entry in invalid_networks(conf.METRICS_ALLOWED_NETWORKS)
    ]
    if not conf.METRICS_ENABLED:
        return messages
    if not conf.METRICS_ALLOWED_NETWORKS and not conf.METRICS_TOKEN:
        messages.append(
            Warning(
                "Metrics are on, but neither MCPDEMO_METRICS_ALLOWED_NETWORKS nor MCPDEMO_METRICS_TOKEN is set: "
                "/metrics answers 404 to everyone.",
                hint="Set the scraper's network (MCPDEMO_METRICS_ALLOWED_NETWORKS) or a bearer secret "
                "(MCPDEMO_METRICS_TOKEN).",
                id="mcpdemo.W004",
            )
        )
    if conf.METRICS_TOKEN and len(conf.METRICS_TOKEN) < MIN_METRICS_TOKEN_LENGTH:
        messages.append(
            Warning(
                f"MCPDEMO_METRICS_TOKEN has fewer than {MIN_METRICS_TOKEN_LENGTH} characters: it can be guessed.",
                hint="Generate one, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'.",
                id="mcpdemo.W005",
            )
        )
    return messages


@register(Tags.compatibility)
def check_metrics_directory(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    path = conf.MULTIPROC_DIR
    if not conf.METRICS_ENABLED or not path:
        return []
    # prestart creates it when missing: then its parent must take it.
    usable = os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)
    if not os.path.exists(path):
        parent = os.path.dirname(os.path.abspath(path))
        usable = os.path.isdir(parent) and os.access(parent, os.W_OK | os.X_OK)
    if usable:
        return []
    return [
        Error(
            f"PROMETHEUS_MULTIPROC_DIR is {path}, which is not a directory this process can write to.",
            hint="Point it at a directory of its own for this node (scripts/run-production's default is var/).",
            id="mcpdemo.E003",
        )
    ]


@register(Tags.compatibility, deploy=True)
def check_metrics_across_workers(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not conf.METRICS_ENABLED or conf.MULTIPROC_DIR or _workers() <= 1:
        return []
    return [
        Error(
            "Metrics are on and several workers serve (MCPDEMO_WORKERS > 1), but PROMETHEUS_MULTIPROC_DIR is unset: "
            "each scrape would see the values of whichever worker answered.",
            hint="Start the node with scripts/run-production (it sets the directory), or set PROMETHEUS_MULTIPROC_DIR "
            "to an empty directory before the workers start.",
            id="mcpdemo.E002",
        )
    ]
