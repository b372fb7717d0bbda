"""The Django admin for OAuth clients, their tokens, users' connections and the audit log.

- Applications: how each client was registered, where it sends people, when it last got
  a token and how many live tokens it holds (annotated in one query); actions revoke all
  tokens, block, unblock (and Django's delete).
- Tokens: who, which client, scope, resource, when, status; never the token or its
  checksum (DOT stores only the checksum; the list would still be no place for it).
- Connections and the audit log are read-only records.

DOT registers its own admin classes; ours replace them here, after importing DOT's
admin module so the order of ``INSTALLED_APPS`` does not matter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar

import oauth2_provider.admin as dot_admin
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
    refresh_token_expire_timedelta,
    revoke_access_token,
)
from oauth2_provider.settings import oauth2_settings

from . import audit, consents
from .models import AuditEvent, Consent
from .redirect_uris import display_host

Application = get_application_model()
AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Grant = get_grant_model()

# How a client came to be known, as the filter offers it and (shorter) as the list shows it.
REGISTRATION_KINDS = {
    Application.RegistrationSource.DCR: _("dynamic (unverified)"),
    Application.RegistrationSource.CIMD: _("metadata document"),
    Application.RegistrationSource.MANUAL: _("admin (trusted)"),
}
REGISTRATION_SHORT = {
    Application.RegistrationSource.DCR: _("dynamic"),
    Application.RegistrationSource.CIMD: _("metadata doc"),
    Application.RegistrationSource.MANUAL: _("admin"),
}
NEVER_SHOWN = ("token", "token_checksum", "code")


def _short_time(moment: Any) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "–"


def redirect_hosts(application: Any) -> list[str]:
    return list(dict.fromkeys(display_host(uri) for uri in application.redirect_uris.split()))


def user_tokens() -> QuerySet:
    """Access tokens a person consented to (not the client's RFC 7592 registration token)."""
    return AccessToken.objects.filter(user__isnull=False)


def live_refresh_tokens(now: Any) -> QuerySet:
    """Refresh tokens DOT would still accept: not revoked, not idle past their lifetime."""
    live = RefreshToken.objects.filter(revoked__isnull=True, access_token__isnull=False)
    idle = refresh_token_expire_timedelta()
    return live.filter(access_token__expires__gt=now - idle) if idle else live


def _count_per_application(tokens: QuerySet) -> Coalesce:
    counted = tokens.filter(application=OuterRef("pk")).order_by().values("application")
    return Coalesce(Subquery(counted.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), Value(0))


class RegistrationKindFilter(admin.SimpleListFilter):
    title = _("registration")
    parameter_name = "registration"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(REGISTRATION_KINDS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(registration_source=self.value()) if self.value() else queryset


class ActivityFilter(admin.SimpleListFilter):
    title = _("activity")
    parameter_name = "activity"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("active", _("has active tokens")), ("idle", _("no active tokens")), ("blocked", _("blocked"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "active":
            return queryset.filter(active_tokens__gt=0)
        if self.value() == "idle":
            return queryset.filter(active_tokens=0, blocked_at__isnull=True)
        if self.value() == "blocked":
            return queryset.filter(blocked_at__isnull=False)
        return queryset


class ApplicationAdmin(dot_admin.ApplicationAdmin):
    list_display = (
        "name_and_status",
        "short_client_id",
        "client_type",
        "registration_kind",
        "redirect_hosts",
        "created_on",
        "last_token_issued",
        "active_tokens",
    )
    list_display_links = ("name_and_status", "short_client_id")
    list_filter = (RegistrationKindFilter, ActivityFilter, "client_type")
    search_fields = ("name", "client_id")
    ordering = ("-created",)
    actions = ("revoke_all_tokens", "block", "unblock")
    readonly_fields = (*dot_admin.ApplicationAdmin.readonly_fields, "client_metadata", "blocked_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        now = timezone.now()
        issued = AuditEvent.objects.filter(
            application=OuterRef("pk"), kind__in=[audit.Kind.TOKEN_ISSUED, audit.Kind.TOKEN_REFRESHED]
        ).order_by("-created")
        return (
            super()
            .get_queryset(request)
            .select_related("user")
            .annotate(
                last_token_issued=Subquery(issued.values("created")[:1]),
                active_access=_count_per_application(user_tokens().filter(expires__gt=now)),
                active_refresh=_count_per_application(live_refresh_tokens(now)),
            )
            .annotate(active_tokens=F("active_access") + F("active_refresh"))
        )

    @admin.display(description=_("client ID"), ordering="client_id")
    def short_client_id(self, application: Any) -> str:
        # Generated IDs are 40 characters: show enough to tell them apart, the rest on hover.
        client_id = application.client_id
        if len(client_id) <= 16:
            return client_id
        return format_html('<span title="{}">{}…</span>', client_id, client_id[:12])

    @admin.display(description=_("created"), ordering="created")
    def created_on(self, application: Any) -> str:
        return timezone.localtime(application.created).strftime("%Y-%m-%d")

    @admin.display(description=_("registered"), ordering="registration_source")
    def registration_kind(self, application: Any) -> str:
        return str(REGISTRATION_SHORT.get(application.registration_source, application.registration_source))

    @admin.display(description=_("redirect hosts"))
    def redirect_hosts(self, application: Any) -> str:
        return ", ".join(redirect_hosts(application))

    @admin.display(description=_("last token issued"), ordering="last_token_issued")
    def last_token_issued(self, application: Any) -> str:
        return _short_time(application.last_token_issued)

    @admin.display(description=_("active tokens"), ordering="active_tokens")
    def active_tokens(self, application: Any) -> int:
        return application.active_tokens

    @admin.display(description=_("name"), ordering="name")
    def name_and_status(self, application: Any) -> str:
        name = application.name or _("(no name)")
        return format_html("{} <strong>· {}</strong>", name, _("blocked")) if application.is_blocked else str(name)

    @admin.action(description=_("Revoke all tokens of the selected applications (they may sign in again)"))
    def revoke_all_tokens(self, request: HttpRequest, queryset: QuerySet) -> None:
        revoked = sum(self._revoke(request, application, "revoked by an administrator") for application in queryset)
        self.message_user(request, _("Revoked %(tokens)d tokens.") % {"tokens": revoked}, messages.SUCCESS)

    @admin.action(description=_("Block the selected applications (revokes their tokens)"))
    def block(self, request: HttpRequest, queryset: QuerySet) -> None:
        blocked = revoked = 0
        for application in queryset.filter(blocked_at__isnull=True):
            with transaction.atomic():
                application.blocked_at = timezone.now()
                application.save(update_fields=["blocked_at"])
                revoked += self._revoke(request, application, "client blocked")
                audit.by_admin(request, audit.Kind.CLIENT_BLOCKED, application)
            blocked += 1
        summary = _("Blocked %(clients)d applications and revoked %(tokens)d tokens.")
        self.message_user(request, summary % {"clients": blocked, "tokens": revoked}, messages.SUCCESS)

    @admin.action(description=_("Unblock the selected applications"))
    def unblock(self, request: HttpRequest, queryset: QuerySet) -> None:
        unblocked = 0
        for application in queryset.filter(blocked_at__isnull=False):
            application.blocked_at = None
            application.save(update_fields=["blocked_at"])
            audit.by_admin(request, audit.Kind.CLIENT_UNBLOCKED, application)
            unblocked += 1
        self.message_user(request, _("Unblocked %(clients)d applications.") % {"clients": unblocked}, messages.SUCCESS)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, set[str], Any]:
        # A client's tokens, codes and connections go with it. Their admins refuse deleting
        # them one by one (revoke instead), which must not make the client undeletable.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        owned = {str(model._meta.verbose_name) for model in (AccessToken, RefreshToken, Grant, Consent)}
        return deleted, counts, {name for name in perms_needed if str(name) not in owned}, protected

    def _revoke(self, request: HttpRequest, application: Any, reason: str) -> int:
        with transaction.atomic():
            revoked = consents.revoke_tokens(application)
            consents.forget_consents(application)
            audit.by_admin(request, audit.Kind.TOKEN_REVOKED, application, tokens=revoked, reason=reason)
        return revoked


class TokenAdminMixin(admin.ModelAdmin):
    """Read-only token lists: who, which client, what for, until when. Revoking is the one action."""

    list_select_related: ClassVar[tuple[str, ...]] = ("application", "user")
    search_fields = ("application__client_id", "application__name", *dot_admin.USER_SEARCH_FIELDS)
    actions: Sequence[str] | None = ("revoke_selected",)
    exclude = NEVER_SHOWN

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a scope or expiry edited by hand would grant what nobody consented to

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: it keeps the refresh-token tombstones reuse detection needs

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.opts.fields if field.name not in NEVER_SHOWN]

    @admin.display(description=_("resource"))
    def resource_list(self, token: Any) -> str:
        return ", ".join(token.resource or [])

    def _record_revocation(self, request: HttpRequest, token: Any, kind: str) -> None:
        audit.by_admin(
            request, audit.Kind.TOKEN_REVOKED, token.application, user=token.user, token_type=kind, token_id=token.pk
        )


class AccessTokenKindFilter(admin.SimpleListFilter):
    """Registration tokens (a client managing its own registration) are hidden unless asked for."""

    title = _("kind")
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("registration", _("client registration tokens"))]

    def choices(self, changelist: Any) -> Any:
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("user tokens"),
        }
        yield from list(super().choices(changelist))[1:]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        registration = Q(user__isnull=True, scope=oauth2_settings.DCR_REGISTRATION_SCOPE)
        return queryset.filter(registration) if self.value() == "registration" else queryset.exclude(registration)


class AccessTokenStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("active", _("active")), ("expired", _("expired"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "active":
            return queryset.filter(expires__gt=timezone.now())
        if self.value() == "expired":
            return queryset.filter(expires__lte=timezone.now())
        return queryset


class AccessTokenAdmin(TokenAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "user", "application", "scope", "resource_list", "created", "expires", "status")
    list_filter = (AccessTokenKindFilter, AccessTokenStatusFilter, "application")
    raw_id_fields = ("user", "source_refresh_token")
    ordering = ("-created",)

    @admin.display(description=_("status"))
    def status(self, token: Any) -> str:
        if token.user_id is None:
            return str(_("client registration token"))
        return str(_("expired")) if token.is_expired() else str(_("active"))

    @admin.action(description=_("Revoke selected access tokens"), permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        revoked = 0
        for token in queryset.select_related("user", "application"):
            self._record_revocation(request, token, "access")
            revoke_access_token(token)  # DOT's path: also revokes the bound refresh token
            revoked += 1
        self.message_user(request, ngettext("Revoked %d access token.", "Revoked %d access tokens.", revoked) % revoked)


class RefreshTokenStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("active", _("active")), ("revoked", _("revoked"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "active":
            return queryset.filter(pk__in=live_refresh_tokens(timezone.now()).values("pk"))
        if self.value() == "revoked":
            return queryset.filter(revoked__isnull=False)
        return queryset


class RefreshTokenAdmin(TokenAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "user", "application", "scope", "resource_list", "created", "expires", "status")
    list_select_related = ("application", "user", "access_token")
    list_filter = (RefreshTokenStatusFilter, "application")
    raw_id_fields = ("user", "access_token")
    ordering = ("-created",)

    @admin.display(description=_("scope"))
    def scope(self, token: Any) -> str:
        return token.access_token.scope if token.access_token else ""

    @admin.display(description=_("expires"))
    def expires(self, token: Any) -> Any:
        # DOT accepts a refresh token until its lifetime after its access token expired.
        idle = refresh_token_expire_timedelta() or timedelta(0)
        return token.access_token.expires + idle if token.access_token and not token.revoked else None

    @admin.display(description=_("status"))
    def status(self, token: Any) -> str:
        if token.revoked:
            return str(_("revoked %(when)s")) % {"when": timezone.localtime(token.revoked).strftime("%Y-%m-%d %H:%M")}
        expires = self.expires(token)
        return str(_("active")) if expires and expires > timezone.now() else str(_("expired"))

    @admin.action(description=_("Revoke selected refresh tokens"), permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        revoked = 0
        for token in queryset.filter(revoked__isnull=True).select_related("user", "application"):
            self._record_revocation(request, token, "refresh")
            token.revoke()  # marks it revoked and deletes its access token
            revoked += 1
        self.message_user(
            request, ngettext("Revoked %d refresh token.", "Revoked %d refresh tokens.", revoked) % revoked
        )


class GrantAdmin(TokenAdminMixin, admin.ModelAdmin):
    """Authorization codes live for a minute; the list shows who and what, never the code."""

    list_display = ("__str__", "user", "application", "scope", "created", "expires")
    list_filter = ("application",)
    actions = ()
    ordering = ("-created",)


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ("user", "application", "scope", "created", "last_authorized_at", "last_used_at")
    list_select_related = ("user", "application")
    list_filter = (("application", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("application__name", "application__client_id", *dot_admin.USER_SEARCH_FIELDS)
    ordering = ("-last_authorized_at",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit log: read-only, so it stays a record of what happened."""

    list_display = ("created", "kind", "actor", "actor_user", "user", "client", "ip_address", "details")
    list_select_related = ("actor_user", "user", "application")
    list_filter = (
        "kind",
        "actor",
        ("application", admin.RelatedOnlyFieldListFilter),
        ("user", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("client_id", "application__name", "user__username", "actor_user__username")
    date_hierarchy = "created"
    ordering = ("-created",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("client"), ordering="client_id")
    def client(self, event: AuditEvent) -> str:
        return event.application.name if event.application and event.application.name else event.client_id

    @admin.display(description=_("details"))
    def details(self, event: AuditEvent) -> str:
        return ", ".join(f"{key}: {value}" for key, value in sorted(event.detail.items()))


admin.site.site_header = _("mcpdemo administration")
admin.site.site_title = _("mcpdemo admin")
admin.site.index_title = _("Clients, tokens and the audit log")
admin.site.enable_nav_sidebar = False  # the lists are wide; the breadcrumbs suffice

for model, model_admin in [
    (Application, ApplicationAdmin),
    (AccessToken, AccessTokenAdmin),
    (RefreshToken, RefreshTokenAdmin),
    (Grant, GrantAdmin),
]:
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
