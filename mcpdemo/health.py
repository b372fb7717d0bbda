"""Probes for load balancers and orchestrators."""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving (touches nothing else)."""
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready for traffic: the database and the cache both answer."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:  # noqa: BLE001 - any failure means not ready
        logger.exception("readiness: database check failed")
        checks["database"] = "unavailable"
    try:
        cache.set("mcpdemo:readyz", "1", 10)
        checks["cache"] = "ok" if cache.get("mcpdemo:readyz") == "1" else "unavailable"
    except Exception:  # noqa: BLE001
        logger.exception("readiness: cache check failed")
        checks["cache"] = "unavailable"
    ready = all(value == "ok" for value in checks.values())
    response = JsonResponse({"status": "ok" if ready else "unavailable", **checks}, status=200 if ready else 503)
    if not ready:
        response["Retry-After"] = "5"
    return response
