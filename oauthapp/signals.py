"""Audit events for what DOT does on its own."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver
from oauth2_provider.signals import app_authorized

from . import audit


@receiver(app_authorized)
def record_token_issued(sender: Any, request: Any, token: Any, **kwargs: Any) -> None:
    refreshed = request.POST.get("grant_type") == "refresh_token"
    audit.record(
        audit.Kind.TOKEN_REFRESHED if refreshed else audit.Kind.TOKEN_ISSUED,
        actor=audit.Actor.CLIENT,
        request=request,
        user=token.user,
        application=token.application,
        scope=token.scope,
    )
