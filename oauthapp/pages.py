"""Browser pages that are not part of the OAuth protocol itself."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.templatetags.static import static
from django.views.generic import ListView, TemplateView, View

from . import audit, connections, public_url
from .models import Connection


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


class ConnectedAppsView(LoginRequiredMixin, ListView):
    """The clients the signed-in user has authorized: when, last used, with which scopes."""

    template_name = "connected_apps.html"
    context_object_name = "connections"

    def get_queryset(self) -> QuerySet[Connection]:
        return (
            Connection.objects.filter(user=self.request.user)
            .select_related("application")
            .order_by("-last_authorized_at")
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(mcp_url=public_url.mcp_resource(self.request), **kwargs)


class DisconnectView(LoginRequiredMixin, View):
    """Revoke the user's tokens for one client at once (POST only, CSRF-checked)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        # Another user's connection is indistinguishable from a missing one.
        connection = get_object_or_404(Connection.objects.select_related("application"), pk=pk, user=request.user)
        application = connection.application
        revoked = connections.disconnect(connection)
        audit.record(
            audit.Kind.TOKEN_REVOKED,
            actor=audit.Actor.USER,
            request=request,
            actor_user=request.user,
            user=request.user,
            application=application,
            tokens=revoked,
            reason="disconnected by the user",
        )
        name = application.name or application.client_id
        messages.success(request, f"Disconnected {name}. It can no longer use your account unless you allow it again.")
        return redirect("connected-apps")
