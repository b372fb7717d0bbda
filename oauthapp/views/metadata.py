"""Discovery: RFC 8414 authorization-server metadata and RFC 9728 protected-resource metadata.

DOT builds both documents from the ``OAUTH2_PROVIDER`` settings; we pin the resource
and issuer to the public origin and let clients cache them.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from oauth2_provider import views as dot_views

from .. import public_url

CACHE_CONTROL = "public, max-age=300"


class ServerMetadataView(dot_views.OAuthServerMetadataView):
    """RFC 8414 metadata; DOT builds it from our ``OAUTH2_PROVIDER`` settings. DOT does not
    list its device authorization endpoint (RFC 8628 §4): we add it, on the issuer's origin."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        data = json.loads(response.content)
        data["device_authorization_endpoint"] = public_url.issuer(request) + reverse(
            "oauth2_provider:device-authorization"
        )
        extended = JsonResponse(data)
        for header in ("Access-Control-Allow-Origin",):
            if header in response:
                extended[header] = response[header]
        extended["Cache-Control"] = CACHE_CONTROL
        return extended


class ProtectedResourceMetadataView(dot_views.OAuthProtectedResourceMetadataView):
    """RFC 9728 metadata for ``/mcp``, served at the path-inserted and the root location."""

    def get_resource(self, request: HttpRequest) -> str:
        return public_url.mcp_resource(request)

    def get_authorization_servers(self, request: HttpRequest) -> list[str]:
        return [public_url.issuer(request)]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        response["Cache-Control"] = CACHE_CONTROL
        return response
