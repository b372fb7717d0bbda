"""Error answers: JSON on the API endpoints, a page for people, never a traceback.

A database that is down or locked past its timeout is an outage, not a bug: it gets
``503`` with ``Retry-After`` (``temporarily_unavailable`` on the API endpoints).
"""

from __future__ import annotations

import sys

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

API_PREFIXES = ("/token", "/register", "/revoke", "/.well-known/", "/authorize")
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
            body = render_to_string(template, {"request": request}, request=request)
        except Exception:  # noqa: BLE001 - the template may need the database that just failed
            body = f"<!doctype html><title>{status}</title><h1>{description}</h1>"
        response = HttpResponse(body, status=status)
    return response


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _answer(request, 400, "invalid_request", "The request could not be understood", "400.html")


def server_error(request: HttpRequest) -> HttpResponse:
    exception = sys.exc_info()[1]
    if isinstance(exception, DatabaseError):
        response = _answer(
            request, 503, "temporarily_unavailable", "The service is briefly unavailable; try again", "503.html"
        )
        response["Retry-After"] = RETRY_AFTER_SECONDS
        return response
    return _answer(request, 500, "server_error", "Something went wrong on our side", "500.html")
