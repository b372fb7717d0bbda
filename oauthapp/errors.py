"""Error answers: JSON on the API endpoints, a page for people, never a traceback.

A database that is down or locked past its timeout is an outage, not a bug: it gets
``503`` with ``Retry-After`` (``temporarily_unavailable`` on the API endpoints).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from django.db import DataError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from mcpdemo import metrics

API_PREFIXES = ("/token", "/register", "/revoke", "/device-authorization", "/.well-known/", "/authorize")
RETRY_AFTER_SECONDS = "5"


def is_api(request: HttpRequest) -> bool:
    path = request.path_info
    # /authorize is a browser page except for the cases clients read (none here).
    return path.startswith(API_PREFIXES) and not path.startswith("/authorize")


def _answer(request: HttpRequest, status: int, error: str, description: str, template: str) -> HttpResponse:
    if is_api(request):
        response: HttpResponse = JsonResponse({"error": error, "error_description": description}, status=status)
        response["Cache-Control"] = "no-store"
    else:
        try:
            body: str = render_to_string(template, {"request": request}, request=request)
        except Exception:  # noqa: BLE001 - the template may need the database that just failed
            body = f"<!doctype html><title>{status}</title><h1>{description}</h1>"
        response = HttpResponse(body, status=status)
    return response


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _answer(request, 400, "invalid_request", "The request could not be understood", "400.html")


def server_error(request: HttpRequest) -> HttpResponse:
    exception = sys.exc_info()[1]
    if isinstance(exception, DataError):  # a value the database cannot store: the client's input
        return bad_request(request, exception)
    if isinstance(exception, (OperationalError, InterfaceError)):
        metrics.record_outage("database", "django-request")
        response = _answer(
            request, 503, "temporarily_unavailable", "The service is briefly unavailable; try again", "503.html"
        )
        response["Retry-After"] = RETRY_AFTER_SECONDS
        return response
    return _answer(request, 500, "server_error", "Something went wrong on our side", "500.html")


class RejectNulMiddleware:
    """Refuse NUL characters in parameters: PostgreSQL cannot store them, and no
    legitimate client sends them. Without this they would surface as database errors."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        sources = [request.GET]
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            request.body  # noqa: B018 - cache the body so views can still read it after POST is parsed
            sources.append(request.POST)
        for params in sources:
            if any("\x00" in key or any("\x00" in v for v in values) for key, values in params.lists()):
                return bad_request(request)
        return self.get_response(request)
