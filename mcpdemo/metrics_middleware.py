"""Django's requests in the request metrics, by URL name (never the raw path: bounded labels)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, resolve

from . import metrics


def route_of(request: HttpRequest) -> str:
    """The URL name of the view that answered (``oauth2_provider:token``, ``admin:index``), or a fixed word.

    A request answered before URL resolution (a rate-limit refusal) is resolved here; a static
    file is ``static``; a path no URL matches is ``unmatched``.
    """
    match = request.resolver_match
    if match is None:
        if request.path_info.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return "static"
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return "unmatched"
    return match.view_name or match.route or "unnamed"


class MetricsMiddleware:
    """Outermost: times everything Django does for a request, the other middleware included."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not metrics.enabled():
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        metrics.record_http_request(
            route_of(request), request.method or "", response.status_code, time.perf_counter() - started
        )
        return response
