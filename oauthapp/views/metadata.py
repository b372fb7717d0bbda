"""Discovery: RFC 8414 authorization-server metadata and RFC 9728 protected-resource metadata.

DOT builds both documents from the ``OAUTH2_PROVIDER`` settings; we pin the resource
and issuer to the public origin and let clients cache them.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from oauth2_provider import views as dot_views

from .. import public_url

CACHE_CONTROL = "public, max-age=300"


class ServerMetadataView(dot_views.OAuthServerMetadataView):
    """RFC 8414 metadata; DOT builds it from our ``OAUTH2_PROVIDER`` settings."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        response["Cache-Control"] = CACHE_CONTROL
        return response


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
