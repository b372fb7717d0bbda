"""Connected apps: the clients a person has allowed, and Disconnect."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.generic import ListView, View

from .. import audit, consents, public_url
from ..models import Consent


class ConnectedAppsView(LoginRequiredMixin, ListView):
    """The clients the signed-in user has authorized: when, last used, with which scopes."""

    template_name = "connected_apps.html"
    context_object_name = "consents"

    def get_queryset(self) -> QuerySet[Consent]:
        return (
            Consent.objects.filter(user=self.request.user)  # type: ignore[misc]  # signed in (LoginRequiredMixin).select_related("application").order_by("-last_authorized_at")
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(mcp_url=public_url.mcp_resource(self.request), **kwargs)


class DisconnectView(LoginRequiredMixin, View):
    """Revoke the user's tokens for one client at once (POST only, CSRF-checked)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        # Another user's consent is indistinguishable from a missing one.
        consent = get_object_or_404(Consent.objects.select_related("application"), pk=pk, user=request.user)
        application = consent.application
        revoked = consents.disconnect(consent)
        audit.by_user(request, audit.Kind.TOKEN_REVOKED, application, tokens=revoked, reason="disconnected by the user")
        name = application.name or application.client_id
        messages.success(request, f"Disconnected {name}. It can no longer use your account unless you allow it again.")
        return redirect("connected-apps")
