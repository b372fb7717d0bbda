"""Template helpers for the browser pages: how far a client can be trusted, scopes in words,
client-supplied names cleaned and shortened (:mod:`oauthapp.display`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import template
from django.utils import timezone
from django.utils.timesince import timesince
from oauth2_provider.scopes import get_scopes_backend

from .. import display

register = template.Library()


@register.inclusion_tag("includes/client_badge.html")
def client_badge(application: Any) -> dict[str, str]:
    """A badge saying how the server knows the client: nobody vouched for a self-registered
    name; a metadata document is vouched for by its domain; an administrator added the rest."""
    source = getattr(application, "registration_source", "")
    if source == "dcr":
        return {"kind": "warn", "label": "unverified", "note": "It registered itself; nobody has checked its name."}
    if source == "cimd":
        domain = urlsplit(application.client_id).hostname or application.client_id
        return {"kind": "info", "label": domain, "note": f"Described by a metadata document published by {domain}."}
    return {"kind": "ok", "label": "trusted", "note": "Added by an administrator of this server."}


@register.filter
def scope_words(scope: str) -> list[str]:
    """``"mcp"`` → ``["Use this server's MCP tools on your behalf"]`` (unknown scopes as they are)."""
    described = get_scopes_backend().get_all_scopes()
    return [described.get(name, name) for name in scope.split()]


@register.filter
def client_name(application: Any) -> str:
    """The client's name without bidi or invisible characters ("" when it gave none)."""
    return display.client_name(application)


@register.filter
def shortened(text: str, limit: int = display.DISPLAY_LENGTH) -> str:
    """``text`` cut to ``limit`` characters with "…" (pages show the full text on request)."""
    return display.shorten(str(text or ""), int(limit))


@register.filter
def clean(text: str) -> str:
    """Client-supplied text without bidi, control or invisible characters."""
    return display.clean_text(text)


@register.filter
def ago(moment: Any) -> str:
    """ "just now" within the minute (never "0 minutes ago"), else "3 hours ago"."""
    if not moment:
        return ""
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment)} ago"
