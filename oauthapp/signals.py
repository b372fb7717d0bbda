"""Audit events for what DOT and Django's sign-in do on their own."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from oauth2_provider.signals import app_authorized

from mcpdemo import metrics

from . import audit
from .tokens import DEVICE_CODE, GRANT_TYPES


@receiver(app_authorized)
def record_token_issued(sender: Any, request: Any, token: Any, **kwargs: Any) -> None:
    grant_type = request.POST.get("grant_type", "")
    # The metric's label: the device grant by its short name, not its URN.
    metrics.record_token_issued(
        "device_code" if grant_type == DEVICE_CODE else grant_type if grant_type in GRANT_TYPES else "other"
    )
    audit.record(
        audit.Kind.TOKEN_REFRESHED if grant_type == "refresh_token" else audit.Kind.TOKEN_ISSUED,
        actor=audit.Actor.CLIENT,
        request=request,
        user=token.user,
        application=token.application,
        scope=token.scope,
        **({"flow": "device"} if grant_type == DEVICE_CODE else {}),
    )


@receiver(user_login_failed)
def record_sign_in_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    # Django masks the password in ``credentials``; only the name tried is kept.
    audit.record(
        audit.Kind.SIGN_IN_FAILED,
        actor=audit.Actor.USER,
        request=request,
        username=str(credentials.get("username", ""))[:150],
        form=getattr(request, "path", "")[:100],
    )
