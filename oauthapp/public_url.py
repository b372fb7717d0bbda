"""The one place that says what this server's public URLs are.

The OAuth issuer, the protected-resource identifier and every URL in discovery
documents come from here, so clients that compare them as strings (VS Code, the
``mcp`` SDK) always see the same spelling. ``MCPDEMO_PUBLIC_URL`` pins the origin;
without it (development) the origin is the request's own scheme and Host.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.http import HttpRequest

from .conf import conf

MCP_PATH = "/mcp"
PROTECTED_RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource" + MCP_PATH


def origin_for(scheme: str, host: str) -> str:
    """The public origin (no trailing slash) for a request with this scheme and Host."""
    return conf.PUBLIC_URL or f"{scheme}://{host}"


def public_origin(request: HttpRequest) -> str:
    return origin_for(request.scheme or "http", request.get_host())


def issuer(request: HttpRequest) -> str:
    """The authorization server's issuer identifier: exactly the public origin."""
    return public_origin(request)


def mcp_resource(request: HttpRequest) -> str:
    """The RFC 8707 / RFC 9728 identifier of the MCP endpoint: ``<origin>/mcp``."""
    return public_origin(request) + MCP_PATH


def same_resource(candidate: object, resource: str) -> bool:
    """Whether a client-supplied resource names our MCP endpoint, at /authorize and /token alike.

    Exactly the canonical URI (RFC 8707 §2: no trailing slash, no query, no fragment), but
    scheme and host in any case, as the MCP authorization spec asks servers to accept.
    """
    if not isinstance(candidate, str) or "?" in candidate or "#" in candidate:
        return False
    try:
        given, ours = urlsplit(candidate), urlsplit(resource)
    except ValueError:
        return False
    return (given.scheme.lower(), given.netloc.lower(), given.path) == (
        ours.scheme.lower(),
        ours.netloc.lower(),
        ours.path,
    )
