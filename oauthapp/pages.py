"""Browser pages that are not part of the OAuth protocol itself."""

from __future__ import annotations

import json
from typing import Any

from django.views.generic import TemplateView

from . import public_url


class HomeView(TemplateView):
    """What this server is and how to connect an MCP client to it."""

    template_name = "home.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        mcp_url = public_url.mcp_resource(self.request)
        context["mcp_url"] = mcp_url
        context["vscode_config"] = json.dumps({"servers": {"mcpdemo": {"type": "http", "url": mcp_url}}}, indent=2)
        return context
