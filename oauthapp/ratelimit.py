"""Per-client-address rate limits on the endpoints that create things or check secrets.

Counters live in Django's cache (shared across processes and nodes once the cache
is Redis), through django-ratelimit. Limits come from ``MCPDEMO_RATE_LIMITS``; the
defaults leave a real user plenty of room and stop guessing and registration floods.
While the cache is unavailable the limits fail open (the request is served, one warning
per interval is logged): a cache outage must not take sign-in and token issuance down.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django_ratelimit.core import get_usage

from mcpdemo.logs import OUTAGES

logger = logging.getLogger(__name__)

# (method, path) → rate group; the login form counts only its POSTs.
_LIMITED: dict[tuple[str, str], str] = {
    ("POST", "/register"): "register",
    ("POST", "/register/"): "register",
    ("POST", "/token"): "token",
    ("POST", "/token/"): "token",
    ("POST", "/revoke"): "token",
    ("POST", "/revoke/"): "token",
    ("POST", "/accounts/login/"): "login",
}


def client_address(group: str, request: HttpRequest) -> str:
    # REMOTE_ADDR is the peer uvicorn saw, or the client a trusted proxy reported
    # (uvicorn --proxy-headers with --forwarded-allow-ips).
    return request.META.get("REMOTE_ADDR", "")


class RateLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        group = _LIMITED.get((request.method or "", request.path_info))
        rate = settings.MCPDEMO_RATE_LIMITS.get(group) if group else None
        if rate:
            try:
                usage = get_usage(request, group=group, key=client_address, rate=rate, increment=True)
            except (redis.RedisError, OSError) as exc:
                OUTAGES.log(
                    logger, logging.WARNING, "ratelimit", "rate limits not enforced: cache unavailable (%s)", exc
                )
                usage = None
            if usage is not None and usage["should_limit"]:
                return _too_many(request, group, max(1, math.ceil(usage["time_left"])))
        return self.get_response(request)


def _too_many(request: HttpRequest, group: str, retry_after: int) -> HttpResponse:
    if group == "login":
        response = HttpResponse(render_to_string("429.html", {"retry_after": retry_after}, request=request), status=429)
    else:
        response = JsonResponse(
            {
                "error": "too_many_requests",
                "error_description": f"Too many requests from this address; retry in {retry_after} seconds",
            },
            status=429,
        )
        response["Cache-Control"] = "no-store"
    response["Retry-After"] = str(retry_after)
    return response
