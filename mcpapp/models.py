"""The MCP server's own tables: the tools an administrator manages, and their hourly usage.

- :class:`Tool`: one row per tool the server has registered (kept in step by
  :func:`mcpapp.permissions.sync_tools` after ``migrate``), each with its own permission
  ``mcpapp.use_<name>``. A tool is open to every active user until an administrator marks
  it *restricted*; then only superusers and the users and groups holding its permission
  may list and call it.
- :class:`ToolPolicy`: one row whose ``version`` goes up with every change that can alter
  who may use what. The token lookup reads it along with the token, so every process
  notices a change on its next request without another query.
- :class:`ToolUsage`: calls per hour, user, client, tool and outcome, with their total
  duration and a fixed histogram (for the median and 95th percentile).
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

# Permission.codename is at most 100 characters; MCP tool names may be up to 128.
CODENAME_LIMIT = 100
POLICY_ROW = 1


def permission_name(tool_name: str) -> str:
    """The label of a tool's permission, as the admin lists it."""
    return f"Can use the tool {tool_name}"[:255]


def permission_codename(tool_name: str) -> str:
    """``use_<tool name>``, or for a very long name its first characters and a digest (still unique)."""
    codename = f"use_{tool_name}"
    if len(codename) <= CODENAME_LIMIT:
        return codename
    digest = hashlib.sha256(tool_name.encode()).hexdigest()[:16]
    return f"{codename[: CODENAME_LIMIT - 17]}_{digest}"


class Tool(models.Model):
    name = models.CharField(_("name"), max_length=128, unique=True)
    summary = models.CharField(_("summary"), max_length=255, blank=True)
    restricted = models.BooleanField(
        _("restricted"),
        default=False,
        help_text=_(
            "Off: every active user may use this tool. On: only superusers and the users and groups "
            "given its permission (below, or on a user's or group's page) see and call it."
        ),
    )
    registered = models.BooleanField(
        _("registered"),
        default=True,
        help_text=_("Whether the server currently offers this tool (the row and its grants stay when it does not)."),
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tool")
        verbose_name_plural = _("tools")
        # The per-tool permissions are created by sync_tools, not listed here: tools come from settings.
        default_permissions = ("change", "view")

    def __str__(self) -> str:
        return self.name

    @property
    def codename(self) -> str:
        return permission_codename(self.name)


class ToolPolicy(models.Model):
    """The one row (``pk=1``) whose version is read with every token: see :mod:`mcpapp.permissions`."""

    version = models.BigIntegerField(default=0)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"tool policy version {self.version}"


class Outcome(models.TextChoices):
    OK = "ok", _("ok")
    TOOL_ERROR = "tool_error", _("tool error")
    REFUSED = "refused", _("refused")
    FAILED = "failed", _("failed")


# Upper bounds (milliseconds) of the duration histogram's buckets, and the field of each;
# the last bucket holds everything longer.
DURATION_BUCKETS: tuple[tuple[float, str], ...] = (
    (1, "le_1ms"),
    (2.5, "le_2_5ms"),
    (5, "le_5ms"),
    (10, "le_10ms"),
    (25, "le_25ms"),
    (50, "le_50ms"),
    (100, "le_100ms"),
    (250, "le_250ms"),
    (500, "le_500ms"),
    (1000, "le_1s"),
    (2500, "le_2_5s"),
    (5000, "le_5s"),
    (10000, "le_10s"),
    (float("inf"), "over_10s"),
)
BUCKET_FIELDS = tuple(name for _bound, name in DURATION_BUCKETS)


class ToolUsage(models.Model):
    """Tool calls in one hour by one user through one client, with one outcome."""

    hour = models.DateTimeField(_("hour"), db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    tool = models.CharField(_("tool"), max_length=128)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    calls = models.PositiveBigIntegerField(_("calls"), default=0)
    total_ms = models.FloatField(_("total duration (ms)"), default=0)
    last_call = models.DateTimeField(_("last call"))
    le_1ms = models.PositiveBigIntegerField(default=0)
    le_2_5ms = models.PositiveBigIntegerField(default=0)
    le_5ms = models.PositiveBigIntegerField(default=0)
    le_10ms = models.PositiveBigIntegerField(default=0)
    le_25ms = models.PositiveBigIntegerField(default=0)
    le_50ms = models.PositiveBigIntegerField(default=0)
    le_100ms = models.PositiveBigIntegerField(default=0)
    le_250ms = models.PositiveBigIntegerField(default=0)
    le_500ms = models.PositiveBigIntegerField(default=0)
    le_1s = models.PositiveBigIntegerField(default=0)
    le_2_5s = models.PositiveBigIntegerField(default=0)
    le_5s = models.PositiveBigIntegerField(default=0)
    le_10s = models.PositiveBigIntegerField(default=0)
    over_10s = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "user", "application", "tool", "outcome"], name="one_usage_row_per_hour_and_key"
            )
        ]
        indexes = [models.Index(fields=["user", "hour"]), models.Index(fields=["application", "hour"])]
        verbose_name = _("tool usage")
        verbose_name_plural = _("tool usage")
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.tool} {self.outcome}: {self.calls}"
