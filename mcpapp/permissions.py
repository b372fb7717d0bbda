"""Who may use which tool: Django's permissions, one per tool, checked without a query per call.

The rule: a tool is open to every active user until an administrator marks its
:class:`~mcpapp.models.Tool` row *restricted*; a restricted tool is for superusers and the
users and groups that hold its permission ``mcpapp.use_<name>`` (asked through
``user.has_perm``, so every configured authentication backend has its say). ``tools/list``
leaves out what a user may not use, ``tools/call`` of it is refused
(:mod:`mcpapp.tool_calls`).

What it costs: every process keeps the restricted tools and each user's grants in memory,
labelled with the tool policy version they were read at. That version is one integer in one
row (:class:`~mcpapp.models.ToolPolicy`), read along with the token by the token lookup (the
same query, no extra round trip), and raised in the same transaction as every change that
can alter a grant: a tool restricted or opened, a user's or a group's permissions, a user's
groups, a deleted group or permission, a user saved in the admin. So a change takes effect on
the next request in every process of every node. Only after a change (or after
``CACHE_SECONDS``, for changes made behind Django's back, such as another backend's groups)
does a process read the grants again, on a lookup thread.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError
from django.db.models import F
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save
from oauth2_provider.models import get_application_model

from mcpdemo.logs import OUTAGES
from oauthapp import audit, token_lookup

from .auth import POLICY_VERSION_ATTRIBUTE, UserAccessToken
from .conf import SWITCHES, conf
from .models import POLICY_ROW, Tool, ToolPolicy, permission_codename, permission_name

logger = logging.getLogger(__name__)

# Grants read this long ago are read again even if the version did not move.
CACHE_SECONDS = 60.0
CACHED_USERS = 10_000
# A refused call is audited at most once per user, client and tool in this many seconds (per process).
AUDIT_INTERVAL_SECONDS = 60.0


@dataclass(frozen=True)
class ToolAccess:
    """The tools one request may not use (``hidden``); every other tool is allowed."""

    hidden: frozenset[str] = frozenset()

    def allows(self, tool_name: str) -> bool:
        return tool_name not in self.hidden


EVERY_TOOL = ToolAccess()


@dataclass(frozen=True)
class _Reading:
    version: int
    read_at: float
    names: frozenset[str]  # the restricted tools, or a user's hidden ones

    def fresh(self, version: int, now: float) -> bool:
        return self.version == version and now - self.read_at < CACHE_SECONDS


_restricted: _Reading | None = None
_hidden: OrderedDict[int, _Reading] = OrderedDict()
_audited: dict[tuple[int, int | None, str], float] = {}


def forget() -> None:
    """Drop what this process remembers (tests start each with a fresh database)."""
    global _restricted
    _restricted = None
    _hidden.clear()
    _audited.clear()


def read_restricted() -> frozenset[str]:
    return frozenset(Tool.objects.filter(restricted=True).values_list("name", flat=True))


def read_hidden(user_id: int, restricted: frozenset[str]) -> frozenset[str]:
    """The restricted tools ``user_id`` lacks the permission of (all of them for a missing or inactive user)."""
    user = get_user_model()._default_manager.filter(pk=user_id).first()
    if user is None or not user.is_active:
        return restricted
    return frozenset(name for name in restricted if not user.has_perm(f"mcpapp.{permission_codename(name)}"))


def hidden_tools(user: Any) -> frozenset[str]:
    """The tools ``user`` may not use, read now (for pages: the consent page lists only the others)."""
    if not SWITCHES.tool_permissions or getattr(user, "is_superuser", False):
        return frozenset()
    restricted = read_restricted()
    if not restricted or not getattr(user, "pk", None):
        return restricted
    return read_hidden(user.pk, restricted)


def _read(user_id: int | None, restricted: frozenset[str] | None) -> tuple[frozenset[str], frozenset[str] | None]:
    """On a lookup thread: the restricted tools (unless known) and the user's hidden ones."""
    if restricted is None:
        restricted = read_restricted()
    return restricted, (read_hidden(user_id, restricted) if user_id is not None and restricted else None)


def known_access(token: UserAccessToken | None) -> ToolAccess | None:
    """What the request with ``token`` may use, if this process knows it without reading (else ``None``)."""
    if not SWITCHES.tool_permissions or (token is not None and token.is_superuser):
        return EVERY_TOOL
    restricted = _restricted
    if restricted is None:
        return None
    version = token.tool_policy_version if token is not None else -1
    now = time.monotonic()
    if not restricted.fresh(version, now):
        return None
    if not restricted.names:
        return EVERY_TOOL  # nothing is restricted: the usual case, no per-user reading
    if token is None or token.user_id is None:
        return ToolAccess(restricted.names)
    hidden = _hidden.get(token.user_id)
    return ToolAccess(hidden.names) if hidden is not None and hidden.fresh(version, now) else None


async def access_for(token: UserAccessToken | None) -> ToolAccess:
    """What the request with ``token`` may use (``None``: a request without one of our tokens, no grants).

    Raises ``DatabaseError`` when the grants had to be read and the database did not answer.
    """
    access = known_access(token)
    if access is not None:
        return access
    global _restricted
    version = token.tool_policy_version if token is not None else -1
    user_id = token.user_id if token is not None else None
    now = time.monotonic()
    known = _restricted.names if _restricted is not None and _restricted.fresh(version, now) else None
    restricted, hidden_names = await token_lookup.run_on_lookup_thread(_read_and_release, user_id, known)
    _restricted = _Reading(version, now, restricted)
    if not restricted:
        return EVERY_TOOL
    if user_id is None or hidden_names is None:
        return ToolAccess(restricted)
    _hidden[user_id] = _Reading(version, now, hidden_names)
    _hidden.move_to_end(user_id)
    while len(_hidden) > CACHED_USERS:
        _hidden.popitem(last=False)
    return ToolAccess(hidden_names)


def _read_and_release(user_id: int | None, restricted: frozenset[str] | None) -> Any:
    from django.db import connection

    try:
        return _read(user_id, restricted)
    except DatabaseError:
        connection.close()  # the lookup thread reconnects next time
        raise


def note_refusal(token: UserAccessToken | None, tool_name: str) -> None:
    """Audit a refused call (on a lookup thread, not waited for), once a minute per user, client and tool."""
    if token is None or token.user_id is None:
        return
    key = (token.user_id, token.application_id, tool_name)
    now = time.monotonic()
    last = _audited.get(key)
    if last is not None and now - last < AUDIT_INTERVAL_SECONDS:
        return
    if len(_audited) > CACHED_USERS:
        _audited.clear()
    _audited[key] = now
    token_lookup.submit(_record_refusal, token.user_id, token.application_id, token.client_id, tool_name)


def _record_refusal(user_id: int, application_id: int | None, client_id: str, tool_name: str) -> None:
    application_model = get_application_model()
    try:
        audit.record(
            audit.Kind.TOOL_REFUSED,
            actor=audit.Actor.CLIENT,
            user=get_user_model()(pk=user_id),
            application=application_model(pk=application_id) if application_id is not None else None,
            client_id=client_id,
            tool=tool_name,
        )
    except DatabaseError as exc:
        OUTAGES.log(logger, logging.WARNING, "tool-refusal-audit", "could not audit a refused tool call (%s)", exc)


# --- Keeping the Tool rows and the version in step ------------------------------------------


def sync_tools(tools: Iterable[tuple[str, str]]) -> None:
    """One :class:`Tool` row and one permission per registered tool ``(name, summary)``.

    Rows of tools the server no longer offers stay (with their grants), marked unregistered.
    """
    content_type = ContentType.objects.get_for_model(Tool)
    names = []
    for name, summary in tools:
        names.append(name)
        tool, created = Tool.objects.get_or_create(name=name, defaults={"summary": summary[:255]})
        if not created and (tool.summary != summary[:255] or not tool.registered):
            Tool.objects.filter(pk=tool.pk).update(summary=summary[:255], registered=True)
        Permission.objects.update_or_create(
            content_type=content_type,
            codename=permission_codename(name),
            defaults={"name": permission_name(name)},
        )
    Tool.objects.exclude(name__in=names).filter(registered=True).update(registered=False)


async def _server_tools() -> list[tuple[str, str]]:
    from .server import create_mcp_server
    from .tool_calls import first_line

    listed = await create_mcp_server().list_tools()
    # As the consent page shows them: without Markdown's code marks.
    return [(tool.name, first_line(tool.description).replace("`", "")) for tool in listed]


def sync_after_migrate(sender: Any, **kwargs: Any) -> None:
    """``post_migrate``: the tools of the server this configuration builds (tools and extensions)."""
    try:
        tools = async_to_sync(_server_tools)()
    except ImproperlyConfigured as exc:  # reported by the system checks too
        logger.warning("tool rows not brought up to date: %s", exc)
        return
    ContentType.objects.clear_cache()  # as Django's create_permissions does: a flush renumbers them
    sync_tools(tools)


def bump_version(**kwargs: Any) -> None:
    """Raise the tool policy version, in the transaction of the change (so nobody sees one without the other)."""
    if not ToolPolicy.objects.filter(pk=POLICY_ROW).update(version=F("version") + 1):
        ToolPolicy.objects.get_or_create(pk=POLICY_ROW, defaults={"version": 1})


def _m2m_changed(action: str, **kwargs: Any) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        bump_version()


def _user_saved(created: bool, update_fields: Any = None, **kwargs: Any) -> None:
    # Sign-in saves last_login on every login: that changes no grant.
    if not created and (update_fields is None or not set(update_fields) <= {"last_login"}):
        bump_version()


def connect() -> None:
    """Wire the signals (``AppConfig.ready``), and have the token lookup read the version along."""
    user_model = get_user_model()
    post_migrate.connect(sync_after_migrate, sender=apps.get_app_config("mcpapp"), dispatch_uid="mcpapp-sync-tools")
    for sender in (user_model.user_permissions.through, user_model.groups.through, Group.permissions.through):
        m2m_changed.connect(_m2m_changed, sender=sender, dispatch_uid=f"mcpapp-policy-{sender.__name__}")
    post_save.connect(bump_version, sender=Tool, dispatch_uid="mcpapp-policy-tool-saved")
    post_delete.connect(bump_version, sender=Tool, dispatch_uid="mcpapp-policy-tool-deleted")
    post_delete.connect(bump_version, sender=Group, dispatch_uid="mcpapp-policy-group-deleted")
    post_delete.connect(bump_version, sender=Permission, dispatch_uid="mcpapp-policy-permission-deleted")
    post_save.connect(_user_saved, sender=user_model, dispatch_uid="mcpapp-policy-user-saved")
    if conf.TOOL_PERMISSIONS:
        token_lookup.read_along(token_lookup.ReadAlong(POLICY_VERSION_ATTRIBUTE, ToolPolicy, "version", POLICY_ROW))
