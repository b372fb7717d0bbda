"""System checks for the deployment as a whole (``manage.py check --deploy``).

| id | finding |
|---|---|
| mcpdemo.W001 | debug is off and ``collectstatic`` has not run: pages use the unhashed source files |
| mcpdemo.W002 | debug is off and ``MCPDEMO_PUBLIC_URL`` is not https: tokens and cookies travel in clear |
| mcpdemo.W003 | debug is off, several processes serve (``MCPDEMO_WORKERS`` > 1 or stateless MCP), no ``REDIS_URL`` |
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.checks import CheckMessage, Tags, Warning, register


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
    workers = os.environ.get("MCPDEMO_WORKERS", "1").strip() or "1"
    several = (workers.isdigit() and int(workers) > 1) or getattr(settings, "MCPDEMO_MCP_STATELESS", False)
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
