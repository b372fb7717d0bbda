"""Recording security events for the admin's audit log.

Callers pass objects, never credentials: the detail dict is for things like a
scope or a reason, and must not carry a token, code, verifier or secret.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest

from .models import AuditEvent

logger = logging.getLogger(__name__)

Kind = AuditEvent.Kind
Actor = AuditEvent.Actor


def client_address(request: HttpRequest | None) -> str | None:
    return request.META.get("REMOTE_ADDR") or None if request is not None else None


def record(
    kind: str,
    *,
    actor: str,
    request: HttpRequest | None = None,
    actor_user: Any = None,
    user: Any = None,
    application: Any = None,
    client_id: str = "",
    **detail: Any,
) -> AuditEvent:
    event = AuditEvent.objects.create(
        kind=kind,
        actor=actor,
        actor_user=actor_user if getattr(actor_user, "pk", None) else None,
        user=user if getattr(user, "pk", None) else None,
        application=application,
        client_id=client_id or getattr(application, "client_id", ""),
        ip_address=client_address(request),
        detail=detail,
    )
    logger.info("audit %s client=%s user=%s actor=%s", kind, event.client_id, getattr(user, "pk", None), actor)
    return event


def by_user(request: HttpRequest, kind: str, application: Any, **detail: Any) -> AuditEvent:
    """An event the signed-in person caused about their own account."""
    return record(
        kind,
        actor=Actor.USER,
        request=request,
        actor_user=request.user,
        user=request.user,
        application=application,
        **detail,
    )


def by_admin(request: HttpRequest, kind: str, application: Any, user: Any = None, **detail: Any) -> AuditEvent:
    """An event an administrator caused (in the admin), about a client and perhaps one of its users."""
    return record(
        kind, actor=Actor.ADMIN, request=request, actor_user=request.user, user=user, application=application, **detail
    )
