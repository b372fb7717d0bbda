"""The Django admin for OAuth clients, their tokens, users' connections and the audit log.

- Applications: how each client was registered, where it sends people, when it last got
  a token and how many live tokens it holds (annotated in one query); actions revoke all
  tokens, block (both confirmed on an intermediate page), unblock (and Django's delete).
  The change page offers only what this server supports and shows the client's users,
  live tokens and audit trail, with Block/Unblock, Revoke all and per-user Disconnect.
- Tokens: who, which client, scope, resource, when, status; never the token or its
  checksum (DOT stores only the checksum; the list would still be no place for it).
- Connections: never deleted bare (the tokens would live on): Disconnect does what the
  user's own Disconnect does. The audit log is read-only; replay alarms stand out.
- Client names are client-supplied: cleaned (:mod:`oauthapp.display`), shortened in
  lists with the full name on hover, and shown with a short client ID beside them.

DOT registers its own admin classes; ours replace them here, after importing DOT's
admin module so the order of ``INSTALLED_APPS`` does not matter.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import oauth2_provider.admin as dot_admin
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
    refresh_token_expire_timedelta,
    revoke_access_token,
)
from oauth2_provider.settings import oauth2_settings

from mcpapp import usage_report

from . import audit, consents, display
from .admin_forms import ApplicationForm
from .models import AuditEvent, Consent
from .redirect_uris import display_host
from .tokens import AUTH_METHODS, GRANT_TYPES

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

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


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


def name_cell(application: Any) -> str:
    """A client's cleaned name, cut by CSS to one line (full name on hover), isolated from the text around it."""
    if application is None:
        return "–"
    name = display.client_name(application) or str(_("(no name)"))
    return format_html('<span class="client-name-cell" dir="auto" title="{}">{}</span>', name, name)


def client_cell(application: Any) -> str:
    """Name and a short client ID: two clients that both call themselves "Visual Studio Code" differ."""
    if application is None:
        return "–"
    return format_html(
        '{} <span class="quiet" title="{}">{}</span>',
        name_cell(application),
        application.client_id,
        display.short_client_id(application.client_id),
    )


class ApplicationFilter(admin.RelatedOnlyFieldListFilter):
    """ "By application" with labels that tell same-named clients apart and never run long."""

    # Self-registration can create thousands of clients: list the most recent, search finds the rest.
    limit = 30

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        used = model_admin.get_queryset(request).distinct().values_list(f"{field.name}__pk", flat=True)
        recent = list(Application.objects.filter(pk__in=used).order_by("-created")[: self.limit])
        value = self.lookup_val
        selected = value[-1] if isinstance(value, list) and value else value
        if selected and str(selected).isdigit() and all(str(app.pk) != str(selected) for app in recent):
            recent += list(Application.objects.filter(pk=selected))
        recent.sort(key=lambda application: (display.client_name(application).casefold(), application.client_id))
        return [(application.pk, display.client_label(application)) for application in recent]


def confirm(
    request: HttpRequest,
    model_admin: admin.ModelAdmin,
    *,
    title: StrOrPromise,
    question: StrOrPromise,
    labels: list[str],
    confirm_label: StrOrPromise,
    consequence: StrOrPromise = "",
    queryset: QuerySet | None = None,
    action: str = "",
) -> TemplateResponse:
    """An intermediate "are you sure?" page; its form posts back with ``post=yes``."""
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": title,
        "question": question,
        "labels": labels,
        "consequence": consequence,
        "confirm_label": confirm_label,
        "queryset": queryset if queryset is not None else [],
        "action": action,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/oauthapp/confirm_action.html", context)


def confirmed(request: HttpRequest) -> bool:
    return request.method == "POST" and request.POST.get("post") == "yes"


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
    readonly_fields = (*dot_admin.ApplicationAdmin.readonly_fields, "registered_metadata", "blocked_at")
    form = ApplicationForm
    view_on_site = False  # DOT's get_absolute_url names a management page this server does not have
    change_form_template = "admin/oauthapp/application/change_form.html"

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

    # --- The form: only what this server supports ---------------------------------------

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> list[str]:
        excluded = [*(super().get_exclude(request, obj) or []), "client_metadata"]  # shown cleaned instead
        if not oauth2_settings.OIDC_ENABLED:
            excluded += ["algorithm", "post_logout_redirect_uris"]  # OpenID Connect only
        return excluded

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        readonly = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and obj.registration_source != Application.RegistrationSource.MANUAL:
            # Never for a client that registered itself; it declared the device grant or not.
            readonly += ("skip_authorization", "device_sign_in")
        return readonly

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "authorization_grant_type":
            # The token endpoint serves the code grant (with refresh) and nothing else.
            kwargs["choices"] = [
                (Application.GRANT_AUTHORIZATION_CODE, _("Authorization code (with refresh)")),
                (Application.GRANT_DEVICE_CODE, _("Device code only, no redirects (with refresh; public clients)")),
            ]
            kwargs["help_text"] = _(
                "This server issues tokens for the grants %(grants)s only; the device grant goes to a "
                "public client that declared it, or that you allow below."
            ) % {"grants": ", ".join(GRANT_TYPES)}
        field = super().formfield_for_choice_field(db_field, request, **kwargs)
        if db_field.name == "client_type":
            field.help_text = _(
                "Public: a desktop or browser app that holds no secret (token endpoint auth method "
                "“none”, PKCE). Confidential: a server that authenticates with its client secret "
                "(%(methods)s)."
            ) % {"methods": ", ".join(method for method in AUTH_METHODS if method != "none")}
        return field

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "skip_authorization" and field is not None:
            field.label = _("Skip the consent page (trusted in-house clients only)")
            field.help_text = _(
                "Every user is signed in to this client without being asked. Only for a client "
                "your organisation runs; users still see it under Connected apps and can disconnect it."
            )
        return field

    @admin.display(description=_("device sign-in"), boolean=True)
    def device_sign_in(self, application: Any) -> bool:
        """For a self-registered client: whether its registration declared the device grant."""
        return bool(application.allows_device_grant)

    # --- The list --------------------------------------------------------------------

    @admin.display(description=_("client metadata"))
    def registered_metadata(self, application: Any) -> str:
        """What the client registered (RFC 7591), as it sent it but cleaned like its name."""
        text = display.clean_text(json.dumps(application.client_metadata, ensure_ascii=False, sort_keys=True))
        return format_html('<bdi class="metadata">{}</bdi>', text)

    @admin.display(description=_("client ID"), ordering="client_id")
    def short_client_id(self, application: Any) -> str:
        # Generated IDs are 40 characters: show enough to tell them apart, the rest on hover.
        client_id = application.client_id
        return format_html('<span title="{}">{}</span>', client_id, display.short_client_id(client_id))

    @admin.display(description=_("created"), ordering="created")
    def created_on(self, application: Any) -> str:
        return timezone.localtime(application.created).strftime("%Y-%m-%d")

    @admin.display(description=_("registered"), ordering="registration_source")
    def registration_kind(self, application: Any) -> str:
        # With the client type: "dynamic · public" (the type is also a filter).
        kind = REGISTRATION_SHORT.get(application.registration_source, application.registration_source)
        return f"{kind} · {application.get_client_type_display().lower()}"

    @admin.display(description=_("redirect hosts"))
    def redirect_hosts(self, application: Any) -> str:
        hosts = ", ".join(redirect_hosts(application))
        return format_html('<span class="cell-clip" title="{}">{}</span>', hosts, hosts)

    @admin.display(description=_("last token"), ordering="last_token_issued")
    def last_token_issued(self, application: Any) -> str:
        return _short_time(application.last_token_issued)

    @admin.display(description=_("live tokens"), ordering="active_tokens")
    def active_tokens(self, application: Any) -> int:
        return application.active_tokens

    @admin.display(description=_("name"), ordering="name")
    def name_and_status(self, application: Any) -> str:
        if application.is_blocked:
            return format_html("{} <strong>· {}</strong>", name_cell(application), _("blocked"))
        return name_cell(application)

    # --- Actions (list) and object actions (change page) --------------------------------

    @admin.action(description=_("Revoke all tokens of the selected applications (they may sign in again)"))
    def revoke_all_tokens(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        if not confirmed(request):
            return self._confirm_revoke(request, list(queryset), queryset=queryset, action="revoke_all_tokens")
        revoked = sum(self._revoke(request, application, "revoked by an administrator") for application in queryset)
        self.message_user(request, revoked_message(revoked, queryset.count()), messages.SUCCESS)
        return None

    @admin.action(description=_("Block the selected applications (revokes their tokens)"))
    def block(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        if not confirmed(request):
            return self._confirm_block(request, list(queryset), queryset=queryset, action="block")
        blocked, revoked = self._block(request, queryset.filter(blocked_at__isnull=True))
        self.message_user(request, blocked_message(blocked, revoked), messages.SUCCESS)
        return None

    @admin.action(description=_("Unblock the selected applications"))
    def unblock(self, request: HttpRequest, queryset: QuerySet) -> None:
        unblocked = self._unblock(request, queryset.filter(blocked_at__isnull=False))
        message = ngettext("Unblocked %(clients)d application.", "Unblocked %(clients)d applications.", unblocked)
        self.message_user(request, message % {"clients": unblocked}, messages.SUCCESS)

    def get_urls(self) -> list[Any]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/block/", view(self.block_view), name=f"{prefix}_block"),
            path("<path:object_id>/unblock/", view(self.unblock_view), name=f"{prefix}_unblock"),
            path("<path:object_id>/revoke/", view(self.revoke_view), name=f"{prefix}_revoke"),
            path(
                "<path:object_id>/disconnect/<int:user_id>/",
                view(self.disconnect_user_view),
                name=f"{prefix}_disconnect",
            ),
            *super().get_urls(),
        ]

    def _object_for_action(self, request: HttpRequest, object_id: str) -> Any:
        application = self.get_object(request, object_id)
        if application is None:
            raise Http404("no such application")
        if not self.has_change_permission(request, application):
            raise PermissionDenied
        return application

    def _back_to(self, application: Any) -> HttpResponseRedirect:
        change = f"admin:{self.opts.app_label}_{self.opts.model_name}_change"
        return HttpResponseRedirect(reverse(change, args=[application.pk]))

    def block_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        application = self._object_for_action(request, object_id)
        if not confirmed(request):
            return self._confirm_block(request, [application])
        blocked, revoked = self._block(request, [application] if not application.is_blocked else [])
        self.message_user(request, blocked_message(blocked, revoked), messages.SUCCESS)
        return self._back_to(application)

    def unblock_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        application = self._object_for_action(request, object_id)
        if request.method != "POST":
            return self._back_to(application)
        unblocked = self._unblock(request, [application] if application.is_blocked else [])
        message = ngettext("Unblocked %(clients)d application.", "Unblocked %(clients)d applications.", unblocked)
        self.message_user(request, message % {"clients": unblocked}, messages.SUCCESS)
        return self._back_to(application)

    def revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        application = self._object_for_action(request, object_id)
        if not confirmed(request):
            return self._confirm_revoke(request, [application])
        revoked = self._revoke(request, application, "revoked by an administrator")
        self.message_user(request, revoked_message(revoked, 1), messages.SUCCESS)
        return self._back_to(application)

    def disconnect_user_view(self, request: HttpRequest, object_id: str, user_id: int) -> HttpResponse:
        """Sign one user out of this client: what their own Disconnect does (POST only)."""
        application = self._object_for_action(request, object_id)
        if request.method != "POST":
            return self._back_to(application)
        user = get_object_or_404(get_user_model(), pk=user_id)
        revoked = disconnect_user(request, application, user)
        self.message_user(request, disconnected_message(user, application, revoked), messages.SUCCESS)
        return self._back_to(application)

    def _confirm_revoke(self, request: HttpRequest, applications: list[Any], **form: Any) -> TemplateResponse:
        count = len(applications)
        return confirm(
            request,
            self,
            title=_("Revoke all tokens"),
            question=ngettext(
                "Revoke every token of this application?",
                "Revoke every token of these %(count)d applications?",
                count,
            )
            % {"count": count},
            labels=[display.client_label(application, 80) for application in applications],
            consequence=_(
                "Every user is signed out of them at once and their connections are forgotten. "
                "They stay registered and may ask users to allow them again."
            ),
            confirm_label=_("Yes, revoke all tokens"),
            **form,
        )

    def _confirm_block(self, request: HttpRequest, applications: list[Any], **form: Any) -> TemplateResponse:
        count = len(applications)
        return confirm(
            request,
            self,
            title=_("Block"),
            question=ngettext("Block this application?", "Block these %(count)d applications?", count)
            % {"count": count},
            labels=[display.client_label(application, 80) for application in applications],
            consequence=_(
                "Their tokens are revoked at once, and they get no new authorizations or tokens "
                "until an administrator unblocks them."
            ),
            confirm_label=_("Yes, block"),
            **form,
        )

    def _block(self, request: HttpRequest, applications: Any) -> tuple[int, int]:
        blocked = revoked = 0
        for application in applications:
            with transaction.atomic():
                application.blocked_at = timezone.now()
                application.save(update_fields=["blocked_at"])
                revoked += self._revoke(request, application, "client blocked")
                audit.by_admin(request, audit.Kind.CLIENT_BLOCKED, application)
            blocked += 1
        return blocked, revoked

    def _unblock(self, request: HttpRequest, applications: Any) -> int:
        unblocked = 0
        for application in applications:
            application.blocked_at = None
            application.save(update_fields=["blocked_at"])
            audit.by_admin(request, audit.Kind.CLIENT_UNBLOCKED, application)
            unblocked += 1
        return unblocked

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

    # --- The change page: who uses the client, with what, and what happened ---------------

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        application = self.get_object(request, object_id)
        if application is not None:
            extra_context = {
                **(extra_context or {}),
                **client_activity(application),
                **usage_report.recent_use(application=application),
            }
        return super().change_view(request, object_id, form_url, extra_context)


def client_activity(application: Any) -> dict[str, Any]:
    """What the change page shows under the form: users (connections), live tokens, recent audit events."""
    now = timezone.now()
    return {
        "client_name": display.client_name(application),
        "connections": Consent.objects.filter(application=application)
        .select_related("user")
        .order_by("-last_authorized_at"),
        "live_access_tokens": user_tokens()
        .filter(application=application, expires__gt=now)
        .select_related("user")
        .order_by("-created")[:50],
        "live_refresh_tokens": live_refresh_tokens(now)
        .filter(application=application)
        .select_related("user")
        .order_by("-created")[:50],
        "audit_events": AuditEvent.objects.filter(application=application)
        .select_related("user", "actor_user")
        .order_by("-created")[:30],
        "alarm_kinds": AuditEvent.ALARMS,
    }


def disconnect_user(request: HttpRequest, application: Any, user: Any) -> int:
    """An administrator's Disconnect of one user from one client: the user's own path, audited as the admin's."""
    consent = Consent.objects.filter(application=application, user=user).first()
    with transaction.atomic():
        if consent is not None:
            revoked = consents.disconnect(consent)
        else:  # tokens without a consent record (issued before connections were kept)
            revoked = consents.revoke_tokens(application, user=user)
        audit.by_admin(
            request,
            audit.Kind.TOKEN_REVOKED,
            application,
            user=user,
            tokens=revoked,
            reason="disconnected by an administrator",
        )
    return revoked


def revoked_message(tokens: int, clients: int) -> str:
    return ngettext("Revoked %(tokens)d token", "Revoked %(tokens)d tokens", tokens) % {"tokens": tokens} + ngettext(
        " of %(clients)d application.", " of %(clients)d applications.", clients
    ) % {"clients": clients}


def blocked_message(clients: int, tokens: int) -> str:
    blocked = ngettext("Blocked %(clients)d application", "Blocked %(clients)d applications", clients)
    revoked = ngettext(" and revoked %(tokens)d token.", " and revoked %(tokens)d tokens.", tokens)
    return blocked % {"clients": clients} + revoked % {"tokens": tokens}


def disconnected_message(user: Any, application: Any, tokens: int) -> str:
    revoked = ngettext("%(tokens)d token revoked", "%(tokens)d tokens revoked", tokens) % {"tokens": tokens}
    return _("Signed %(user)s out of %(client)s (%(revoked)s).") % {
        "user": user.get_username(),
        "client": display.client_label(application, 60),
        "revoked": revoked,
    }


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

    @admin.display(description=_("application"), ordering="application__name")
    def client(self, token: Any) -> str:
        return client_cell(token.application)

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
    list_display = ("__str__", "user", "client", "scope", "resource_list", "created", "expires", "status")
    list_filter = (AccessTokenKindFilter, AccessTokenStatusFilter, ("application", ApplicationFilter))
    raw_id_fields = ("user", "source_refresh_token")
    ordering = ("-created",)

    @admin.display(description=_("status"))
    def status(self, token: Any) -> str:
        if token.user_id is None:
            return str(_("client registration token"))
        return str(_("expired")) if token.is_expired() else str(_("active"))

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        # DOT revokes an access token by deleting it; say where its trace is.
        note = _(
            "A revoked access token is deleted at once. Its refresh token stays listed as revoked "
            "under Refresh tokens, and the audit log records who revoked it."
        )
        return super().changelist_view(request, {**(extra_context or {}), "revoked_note": note})

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
    list_display = ("__str__", "user", "client", "scope", "resource_list", "created", "expires", "status")
    list_select_related = ("application", "user", "access_token")
    list_filter = (RefreshTokenStatusFilter, ("application", ApplicationFilter))
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

    list_display = ("__str__", "user", "client", "scope", "created", "expires")
    list_filter = (("application", ApplicationFilter),)
    actions = ()
    ordering = ("-created",)

    def get_model_perms(self, request: HttpRequest) -> dict[str, bool]:
        return {}  # codes live a minute: off the index, the list still reachable by its URL


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    """A user's connection to a client. Never deleted bare: Disconnect revokes the tokens first."""

    list_display = ("user", "client", "scope", "created", "last_authorized_at", "last_used_at", "disconnect_button")
    list_select_related = ("user", "application")
    list_filter = (("application", ApplicationFilter),)
    search_fields = ("application__name", "application__client_id", *dot_admin.USER_SEARCH_FIELDS)
    ordering = ("-last_authorized_at",)
    actions = ("disconnect_selected",)
    change_form_template = "admin/oauthapp/consent/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a deleted connection would leave its tokens working and hide it from the user

    def has_disconnect_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.delete_{self.opts.model_name}")

    @admin.display(description=_("application"), ordering="application__name")
    def client(self, consent: Consent) -> str:
        return client_cell(consent.application)

    @admin.display(description="")
    def disconnect_button(self, consent: Consent) -> str:
        # The changelist is one form (with its CSRF token): this button posts it to our URL.
        url = reverse("admin:oauthapp_consent_disconnect", args=[consent.pk])
        return format_html('<button type="submit" class="button" formaction="{}">{}</button>', url, _("Disconnect"))

    @admin.action(
        description=_("Disconnect the selected connections (revokes their tokens)"), permissions=["disconnect"]
    )
    def disconnect_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        revoked = connections = 0
        for consent in queryset.select_related("user", "application"):
            revoked += disconnect_user(request, consent.application, consent.user)
            connections += 1
        message = ngettext(
            "Disconnected %(connections)d connection", "Disconnected %(connections)d connections", connections
        ) % {"connections": connections}
        tokens = ngettext(" and revoked %(tokens)d token.", " and revoked %(tokens)d tokens.", revoked)
        self.message_user(request, message + tokens % {"tokens": revoked}, messages.SUCCESS)

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.disconnect_view)
        return [path("<path:object_id>/disconnect/", view, name="oauthapp_consent_disconnect"), *super().get_urls()]

    def disconnect_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """One click: sign this user out of this client (POST only)."""
        if not self.has_disconnect_permission(request):
            raise PermissionDenied
        consent = get_object_or_404(Consent.objects.select_related("user", "application"), pk=object_id)
        changelist = reverse("admin:oauthapp_consent_changelist")
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:oauthapp_consent_change", args=[consent.pk]))
        revoked = disconnect_user(request, consent.application, consent.user)
        self.message_user(request, disconnected_message(consent.user, consent.application, revoked), messages.SUCCESS)
        return HttpResponseRedirect(changelist)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit log: read-only, so it stays a record of what happened."""

    list_display = ("when", "what", "actor", "actor_user", "user", "client", "ip_address", "details")
    list_select_related = ("actor_user", "user", "application")
    list_filter = (
        "kind",
        "actor",
        ("application", ApplicationFilter),
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

    @admin.display(description=_("when"), ordering="created")
    def when(self, event: AuditEvent) -> str:
        return timezone.localtime(event.created).strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description=_("event"), ordering="kind")
    def what(self, event: AuditEvent) -> str:
        label = event.get_kind_display()
        if event.kind in AuditEvent.ALARMS:
            return format_html('<span class="alarm">⚠ {}</span>', label)
        reason = event.detail.get("reason")
        return format_html("{}: {}", label, reason) if reason else label

    @admin.display(description=_("client"), ordering="client_id")
    def client(self, event: AuditEvent) -> str:
        if event.application is not None:
            return client_cell(event.application)
        return format_html('<span class="client-name-cell" title="{}">{}</span>', event.client_id, event.client_id)

    @admin.display(description=_("details"))
    def details(self, event: AuditEvent) -> str:
        # Details can carry what a client sent (its name at registration): cleaned like names.
        text = display.clean_text(", ".join(f"{key}: {value}" for key, value in sorted(event.detail.items())))
        return format_html('<span class="cell-clip" title="{}">{}</span>', text, text) if text else ""


admin.site.site_header = _("mcpdemo administration")
admin.site.site_title = _("mcpdemo admin")
admin.site.index_title = _("Clients, tokens, tools and the audit log")
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

# OpenID Connect is off: no ID tokens are ever issued, so their list is only noise.
if not oauth2_settings.OIDC_ENABLED and admin.site.is_registered(get_id_token_model()):
    admin.site.unregister(get_id_token_model())
