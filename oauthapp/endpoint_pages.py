"""A person who opens an API endpoint (``/token``, ``/register``) in a browser gets a sentence, not a blank 405.

Clients never GET these endpoints; for anything but a browser asking for HTML the
answer stays the plain 405 with ``Allow``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

PURPOSES = {
    "token": "MCP clients exchange your approval here for access tokens, and renew them.",
    "register": "MCP clients register themselves here before they ask you to sign in.",
    "device-authorization": "MCP clients without a browser ask here for the code you then enter on the device page.",
}


class BrowserPageOnGet:
    """Mixin for a class-based view: ``endpoint_purpose`` is the key into :data:`PURPOSES`."""

    endpoint_purpose = ""

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().http_method_not_allowed(request, *args, **kwargs)  # type: ignore[misc]
        if request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
            context = {"path": request.path, "purpose": PURPOSES.get(self.endpoint_purpose, "")}
            response.content = render_to_string("endpoint.html", context, request=request)
            response["Content-Type"] = "text/html; charset=utf-8"
        return response
