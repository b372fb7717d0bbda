"""The device authorization grant (RFC 8628): the endpoint a device calls, and the page a person uses.

- ``POST /device-authorization`` (DOT's view): for a public client that declared the
  grant; the resource follows the rule of /authorize and is stored on the grant; the
  verification URIs name this server's issuer.
- ``/device``: the signed-in person types the user code (a link may fill it in, but
  never submits it), then sees the consent page of the code flow, told that this is a
  device sign-in. Wrong codes are limited per address and per account. The first
  account to enter a code holds it: for any other account it is an unknown code.
- ``POST /device/confirm``: the decision, applied once to the request the page showed
  (:mod:`oauthapp.consent_requests`, kind ``"device"``), by the account that entered the code.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider import cimd
from oauth2_provider import views as dot_views
from oauth2_provider.models import get_application_model, get_device_grant_model
from oauth2_provider.scopes import get_scopes_backend
from oauth2_provider.views.device import DeviceGrantForm

from .. import audit, consent_requests, consents, public_url, ratelimit
from ..device_codes import DeviceServer, normalise_user_code
from ..endpoint_pages import BrowserPageOnGet
from ..responses import no_store, oauth_error, refused_parameters
from ..tokens import DEVICE_CODE
from .authorize import ConsentForm, consent_context

CONSENT_TEMPLATE = "oauth2_provider/authorize.html"
DEVICE_TEMPLATE = "oauthapp/device.html"


def device_client(request: HttpRequest, client_id: str) -> Any:
    """The client ``client_id`` names: a known one, or a CIMD document's (fetched by DOT)."""
    application = get_application_model().objects.filter(client_id=client_id).first()
    if application is not None:
        return cimd.refresh_if_stale(application, request)
    if cimd.is_cimd_client_id(client_id):
        return cimd.resolve_cimd_application(client_id, request)
    return None


@method_decorator(sensitive_post_parameters("client_secret"), name="dispatch")
class DeviceAuthorizationView(BrowserPageOnGet, dot_views.DeviceAuthorizationView):
    """DOT's device authorization endpoint, for the clients and the resource this server serves."""

    server_class = DeviceServer
    endpoint_purpose = "device-authorization"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refused = refused_parameters(request)
        if refused is not None:
            return refused
        resource = public_url.mcp_resource(request)
        client_id = request.POST.get("client_id", "")
        if not client_id:
            return oauth_error("invalid_request", "client_id is required")
        application = device_client(request, client_id)
        if application is None:
            return oauth_error("invalid_client", "unknown client", 401)
        if application.is_blocked:
            return oauth_error("unauthorized_client", "an administrator of this server blocked this client")
        if not application.allows_grant_type(DEVICE_CODE):
            return oauth_error(
                "unauthorized_client", f"only a public client that registered the grant {DEVICE_CODE} may use it"
            )
        response = super().post(request, *args, **kwargs)
        if response.status_code != 200:
            return no_store(response)
        data = json.loads(response.content)
        get_device_grant_model().objects.filter(device_code=data["device_code"]).update(
            resource=[resource], interval=data["interval"]
        )
        verification_uri = public_url.issuer(request) + reverse("oauth2_provider:device")
        data["verification_uri"] = verification_uri
        data["verification_uri_complete"] = f"{verification_uri}?{urlencode({'user_code': data['user_code']})}"
        return no_store(JsonResponse(data))


class UserCodeForm(DeviceGrantForm):
    """DOT's user-code form, matching codes as people type them and as the account holding them."""

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_user_code(self) -> str:
        user_code = normalise_user_code(self.cleaned_data.get("user_code", ""))
        model = get_device_grant_model()
        grant = (
            model.objects.filter(user_code=user_code, status=model.AUTHORIZATION_PENDING).order_by("-pk").first()
            if user_code
            else None
        )
        # Held by another account: told apart from an unknown code by nothing.
        if grant is None or (grant.user_id is not None and grant.user_id != self.user.pk):
            raise forms.ValidationError("incorrect", code="incorrect_user_code")
        if grant.expires <= timezone.now():
            raise forms.ValidationError("expired", code="expired_user_code")
        self.cleaned_data["device_grant"] = grant
        return grant.user_code


@method_decorator(sensitive_post_parameters("user_code"), name="dispatch")
class DeviceUserCodeView(dot_views.DeviceUserCodeView):
    """The verification page (RFC 8628 §3.3): enter the code, then the consent page."""

    template_name = DEVICE_TEMPLATE
    form_class = UserCodeForm

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "user": self.request.user}

    def get_initial(self) -> dict[str, Any]:
        initial = super().get_initial()
        initial["user_code"] = initial.get("user_code", "")[:64]
        return initial

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["from_link"] = bool(self.request.GET.get("user_code")) and self.request.method == "GET"
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        taken, wait = ratelimit.take_all(
            [("device", ratelimit.address_key(request)), ("device_account", str(request.user.pk))]
        )
        if wait is not None:
            return ratelimit.too_many_page(request, wait, "device")
        form = self.get_form()
        if not form.is_valid():
            return self.form_invalid(form)  # a wrong guess keeps its slots
        for counter in taken:
            counter.give_back()
        return self.form_valid(form)

    def form_valid(self, form: Any) -> HttpResponse:
        grant = form.cleaned_data["device_grant"]
        application = device_client(self.request, grant.client_id)
        if application is None or application.is_blocked:
            return TemplateResponse(self.request, DEVICE_TEMPLATE, {"state": "blocked"}, status=403)
        if grant.user_id is None:
            # The first account to enter the code holds it (DOT's form_valid, without its redirect).
            model = get_device_grant_model()
            held = model.objects.filter(pk=grant.pk, user__isnull=True).update(user=self.request.user)
            if not held:  # another account entered it a moment earlier
                form.add_error("user_code", forms.ValidationError("incorrect", code="incorrect_user_code"))
                return self.form_invalid(form)
        stored = {
            "client_id": grant.client_id,
            "scope": grant.scope,
            "resource": grant.resource,
            "device_grant": grant.pk,
        }
        request_id = consent_requests.remember(self.request, stored, kind="device")
        return consent_page(self.request, application, grant, request_id)


def consent_page(request: HttpRequest, application: Any, grant: Any, request_id: str) -> HttpResponse:
    """The code flow's consent page, for a device sign-in."""
    all_scopes = get_scopes_backend().get_all_scopes()
    scopes = grant.scope.split()
    context = {
        "application": application,
        "form": ConsentForm(initial={"request_id": request_id}),
        "scopes": scopes,
        "scopes_descriptions": [all_scopes.get(scope, scope) for scope in scopes],
        "device_flow": True,
        "user_code": grant.user_code,
        "form_action": reverse("oauth2_provider:device-confirm"),
        "back_path": reverse("oauth2_provider:device"),
        **consent_context(request),
    }
    response = TemplateResponse(request, CONSENT_TEMPLATE, context)
    response["Cache-Control"] = "no-store"
    return response


class DeviceConfirmView(dot_views.DeviceConfirmView):
    """The person's decision on the device sign-in the consent page showed: approve or deny, once."""

    template_name = DEVICE_TEMPLATE
    form_class = ConsentForm
    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return HttpResponseRedirect(reverse("oauth2_provider:device"))

    def get_object(self) -> Any:
        """The pending grant of the stored request, held by this account (``None`` if gone)."""
        stored = getattr(self, "stored", None)
        if stored is None:
            return None
        model = get_device_grant_model()
        return (
            model.objects.select_for_update()
            .filter(
                pk=stored.get("device_grant"),
                client_id=stored.get("client_id") or "",
                status=model.AUTHORIZATION_PENDING,
                user=self.request.user,
                expires__gt=timezone.now(),
            )
            .first()
        )

    def form_invalid(self, form: Any) -> HttpResponse:
        return self._state("expired", 400)

    def form_valid(self, form: Any) -> HttpResponse:
        self.stored = consent_requests.take(self.request, form.cleaned_data["request_id"], kind="device")
        if self.stored is None:
            return self._state("expired", 400)
        allow = bool(form.cleaned_data.get("allow"))
        with transaction.atomic():
            grant = self.get_object()
            if grant is None:
                return self._state("expired", 400)
            application = get_application_model().objects.filter(client_id=grant.client_id).first()
            if application is None or application.is_blocked:
                return self._state("blocked", 403)
            grant.status = grant.AUTHORIZED if allow else grant.DENIED
            grant.save(update_fields=["status"])
            if allow:
                consents.remember_consent(self.request.user, application, grant.scope)
            audit.by_user(
                self.request,
                audit.Kind.CONSENT_GRANTED if allow else audit.Kind.CONSENT_DENIED,
                application,
                scope=grant.scope,
                flow="device",
            )
        return self._state("allowed" if allow else "denied", 200, application=application)

    def _state(self, state: str, status: int, **context: Any) -> HttpResponse:
        response = TemplateResponse(self.request, DEVICE_TEMPLATE, {"state": state, **context}, status=status)
        response["Cache-Control"] = "no-store"
        return response
