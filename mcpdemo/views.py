"""The site's own pages: what this server is, and its icon."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.views.generic import TemplateView

from oauthapp import public_url


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on every page, the admin's included."""
    # Resolved per request: the hashed static name exists only after collectstatic.
    return redirect(static("favicon.svg"))


class HomeView(TemplateView):
    """What this server is and how to connect an MCP client to it."""

    template_name = "home.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        mcp_url = public_url.mcp_resource(self.request)
        context["mcp_url"] = mcp_url
        context["vscode_config"] = json.dumps({"servers": {"mcpdemo": {"type": "http", "url": mcp_url}}}, indent=2)
        return context
