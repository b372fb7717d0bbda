"""Probes for load balancers and orchestrators."""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from .logs import OUTAGES

logger = logging.getLogger(__name__)


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving (touches nothing else)."""
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready for traffic while the database answers; a cache that does not is reported, not fatal.

    Without the database nothing can be served. Without the cache (Redis) everything still
    is: the rate limits fail open. A probe failing for a cache problem would take every
    node out of the balancer for it, so that is ``200`` with ``"status": "degraded"``.
    """
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        OUTAGES.log(logger, logging.WARNING, "readyz:database", "readiness: database unavailable (%s)", exc)
        checks["database"] = "unavailable"
    try:
        cache.set("mcpdemo:readyz", "1", 10)
        checks["cache"] = "ok" if cache.get("mcpdemo:readyz") == "1" else "unavailable"
    except Exception as exc:  # noqa: BLE001
        OUTAGES.log(logger, logging.WARNING, "readyz:cache", "readiness: cache unavailable (%s)", exc, service="cache")
        checks["cache"] = "unavailable"
    if checks["database"] != "ok":
        response = JsonResponse({"status": "unavailable", **checks}, status=503)
        response["Retry-After"] = "5"
        return response
    return JsonResponse({"status": "ok" if checks["cache"] == "ok" else "degraded", **checks})
