"""The admin for the MCP server's tools: who may use each one, and what was used.

- *Tools*: one row per registered tool, open to everyone until marked **restricted**; the
  change page grants its permission (``mcpapp.use_<name>``) to users and groups directly
  (the same permission is on each user's and group's page). Changes take effect on the
  next ``/mcp`` request (:mod:`mcpapp.permissions`).
- *Tool usage*: the usage page (charts over the last 30 days, per tool) instead of a list.
- Each user's change page gets their recent use and last activity; each client's is in
  ``oauthapp.admin`` (the same :func:`mcpapp.usage_report.recent_use`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import django.contrib.auth.admin  # noqa: F401 (registers Django's UserAdmin first, which ours extends)
from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import usage_report
from .models import Tool, ToolUsage, permission_name

User = get_user_model()

# Django's classes take type arguments only for the type checker (django-stubs).
if TYPE_CHECKING:
    ToolFormBase = forms.ModelForm[Tool]
    ToolAdminBase = admin.ModelAdmin[Tool]
    ToolUsageAdminBase = admin.ModelAdmin[ToolUsage]
else:
    ToolFormBase = forms.ModelForm
    ToolAdminBase = ToolUsageAdminBase = admin.ModelAdmin


def tool_permission(tool: Tool) -> Permission:
    content_type = ContentType.objects.get_for_model(Tool)
    permission, _created = Permission.objects.get_or_create(
        content_type=content_type, codename=tool.codename, defaults={"name": permission_name(tool.name)}
    )
    return permission


class ToolForm(ToolFormBase):
    users = forms.ModelMultipleChoiceField(
        queryset=User._default_manager.filter(is_active=True).order_by(User.USERNAME_FIELD),
        required=False,
        widget=FilteredSelectMultiple(_("users"), is_stacked=False),
        label=_("Users who may use it"),
        help_text=_("Only matters while the tool is restricted. Superusers may use every tool."),
    )
    groups = forms.ModelMultipleChoiceField(
        queryset=Group.objects.order_by("name"),
        required=False,
        widget=FilteredSelectMultiple(_("groups"), is_stacked=False),
        label=_("Groups whose members may use it"),
    )

    class Meta:
        model = Tool
        fields = ("restricted",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            permission = tool_permission(self.instance)
            self.fields["users"].initial = list(permission.user_set.all())
            self.fields["groups"].initial = list(permission.group_set.all())


@admin.register(Tool)
class ToolAdmin(ToolAdminBase):
    form = ToolForm
    list_display = ("name", "summary", "restricted", "who_may_use", "registered")
    list_filter = ("restricted", "registered")
    search_fields = ("name", "summary")
    readonly_fields = ("name", "summary", "registered")
    fieldsets = (
        (None, {"fields": ("name", "summary", "registered")}),
        (_("Access"), {"fields": ("restricted", "users", "groups")}),
    )

    @admin.display(description=_("who may use it"))
    def who_may_use(self, tool: Tool) -> str:
        if not tool.restricted:
            return str(_("every active user"))
        permission = tool_permission(tool)
        users, groups = permission.user_set.count(), permission.group_set.count()
        if not users and not groups:
            return str(_("superusers only"))
        granted = [
            ngettext("%d user", "%d users", users) % users if users else "",
            ngettext("%d group", "%d groups", groups) % groups if groups else "",
        ]
        return ", ".join([str(_("superusers")), *filter(None, granted)])

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows come from the server's tools (after migrate)

    def has_delete_permission(self, request: HttpRequest, obj: Tool | None = None) -> bool:
        # A tool the server no longer offers may go; a registered one would only come back.
        return obj is not None and not obj.registered and super().has_delete_permission(request, obj)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        permission = tool_permission(form.instance)
        with transaction.atomic():
            permission.user_set.set(form.cleaned_data["users"])
            permission.group_set.set(form.cleaned_data["groups"])


@admin.register(ToolUsage)
class ToolUsageAdmin(ToolUsageAdminBase):
    """The usage page in place of a list (the rows are hourly sums, not worth reading one by one)."""

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Tool usage"),
            **usage_report.dashboard(),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/mcpapp/toolusage/usage.html", context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- The user's page: their recent use ------------------------------------------------------

_UserAdmin: Any = type(admin.site.get_model_admin(User)) if admin.site.is_registered(User) else admin.ModelAdmin


class UserAdminWithUsage(_UserAdmin):  # type: ignore[misc]
    change_form_template = "admin/mcpapp/user_change_form.html"

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        user = self.get_object(request, object_id)
        if user is not None:
            extra_context = {**(extra_context or {}), **usage_report.recent_use(user=user)}
        response: HttpResponse = super().change_view(request, object_id, form_url, extra_context)
        return response


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, UserAdminWithUsage)
