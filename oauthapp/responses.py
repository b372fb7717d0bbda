"""The JSON answers of the OAuth endpoints: RFC 6749 §5.2 / RFC 7591 §3.2.2 errors, never cached."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from . import public_url
from .parameters import repeated_description, repeated_parameter


def no_store(response: HttpResponse) -> HttpResponse:
    """Mark an OAuth answer JSON that no cache keeps (RFC 6749 §5.1)."""
    # Some oauthlib error paths come back without a Content-Type; every body here is JSON.
    if response.content and not response.get("Content-Type", "").startswith("application/json"):
        response["Content-Type"] = "application/json"
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def oauth_error(error: str, description: str, status: int = 400) -> HttpResponse:
    """An OAuth error body (``error``, ``error_description``) with ``status``."""
    return no_store(JsonResponse({"error": error, "error_description": description}, status=status))


def client_auth_challenge(response: HttpResponse, realm: str) -> HttpResponse:
    """A 401 from client authentication challenges for HTTP Basic (RFC 6749 §5.2).

    oauthlib challenges with ``Bearer``, the scheme of resource requests; the token and
    revocation endpoints authenticate clients with Basic (or the request body).
    """
    if response.status_code == 401:
        response["WWW-Authenticate"] = f'Basic realm="{realm}", charset="UTF-8"'
    return response


def refused_parameters(request: HttpRequest) -> HttpResponse | None:
    """The error for a POST to a token-issuing endpoint (/token, /device-authorization) that
    repeats a parameter (OAuth 2.1 §3.1) or names a resource other than this server's
    (RFC 8707, the rule of /authorize); ``None`` when neither."""
    repeated = repeated_parameter(request.GET, request.POST)
    if repeated is not None:
        return oauth_error("invalid_request", repeated_description(repeated))
    resource = public_url.mcp_resource(request)
    if any(not public_url.same_resource(value, resource) for value in request.POST.getlist("resource")):
        return oauth_error("invalid_target", f"this server only issues tokens for the resource {resource}")
    return None
