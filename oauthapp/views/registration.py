"""RFC 7591 registration (``POST /register``) and RFC 7592 management (``/register/<client_id>``).

Thin HTTP layer over :mod:`oauthapp.registration`; every error is RFC 7591 JSON.
"""

from __future__ import annotations

import json
from typing import Any, cast

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.compat import login_not_required
from oauth2_provider.models import get_access_token_model
from oauth2_provider.settings import oauth2_settings

from mcpdemo import metrics

from ..endpoint_pages import BrowserPageOnGet
from ..registration import (
    ClientRegistration,
    RegistrationError,
    create_client,
    issue_registration_token,
    managed_client,
    parse_registration,
    registration_allowed,
    registration_response,
    unused_ceiling_retry_after,
    update_client,
)
from ..responses import no_store, oauth_error
from ..tokens import checksum

MAX_REGISTRATION_BODY_BYTES = 64 * 1024


def _too_large(request: HttpRequest) -> bool:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    return declared > MAX_REGISTRATION_BODY_BYTES


def _parse_body(request: HttpRequest) -> ClientRegistration:
    if _too_large(request) or len(request.body) > MAX_REGISTRATION_BODY_BYTES:  # chunked bodies declare no length
        raise RegistrationError("invalid_client_metadata", f"the body exceeds {MAX_REGISTRATION_BODY_BYTES} bytes", 413)
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: deeply nested arrays
        raise RegistrationError("invalid_client_metadata", "the request body must be valid JSON") from exc
    return parse_registration(data)


def _invalid_token(description: str) -> HttpResponse:
    response = oauth_error("invalid_token", description, 401)
    response["WWW-Authenticate"] = f'Bearer error="invalid_token", error_description="{description}"'
    return response


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class RegistrationEndpoint(View):
    """Common to both endpoints: off unless ``DCR_ENABLED``; answers are JSON that no cache keeps."""

    http_method_names: list[str] = []

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not oauth2_settings.DCR_ENABLED:
            return oauth_error("not_found", "registration is not offered here", 404)
        try:
            return no_store(cast(HttpResponse, super().dispatch(request, *args, **kwargs)))  # DOT answers JSON
        except RegistrationError as exc:
            return oauth_error(exc.error, exc.description, exc.status)


class RegistrationView(BrowserPageOnGet, RegistrationEndpoint):
    http_method_names = ["post", "options"]
    endpoint_purpose = "register"

    def post(self, request: HttpRequest) -> HttpResponse:
        if _too_large(request):
            raise RegistrationError(
                "invalid_client_metadata", f"the body exceeds {MAX_REGISTRATION_BODY_BYTES} bytes", 413
            )
        if not registration_allowed(request):
            return oauth_error("access_denied", "registration is not open", 401)
        registration = _parse_body(request)
        if (retry_after := unused_ceiling_retry_after()) is not None:
            response = oauth_error(
                "too_many_requests", f"Too many new clients registered recently; retry in {retry_after} seconds", 429
            )
            response["Retry-After"] = str(retry_after)
            metrics.record_rate_limit_refusal("register_unused")
            return response
        client = create_client(request, registration)
        body = registration_response(request, client.application, registration, client.registration_token)
        if client.client_secret:
            body["client_secret"] = client.client_secret
            body["client_secret_expires_at"] = 0
        return JsonResponse(body, status=201)


class RegistrationManagementView(RegistrationEndpoint):
    """RFC 7592: read, replace or delete a registration with its registration access token."""

    http_method_names = ["get", "put", "delete", "options"]

    def _client(self, request: HttpRequest, client_id: str) -> tuple[Any, str] | HttpResponse:
        managed = managed_client(request, client_id)
        if managed is None:
            return _invalid_token("the registration access token is missing, invalid or not for this client")
        return managed

    def get(self, request: HttpRequest, client_id: str) -> HttpResponse:
        managed = self._client(request, client_id)
        if isinstance(managed, HttpResponse):
            return managed
        application, token = managed
        return JsonResponse(
            registration_response(request, application, ClientRegistration.from_application(application), token)
        )

    def put(self, request: HttpRequest, client_id: str) -> HttpResponse:
        if _too_large(request):
            raise RegistrationError(
                "invalid_client_metadata", f"the body exceeds {MAX_REGISTRATION_BODY_BYTES} bytes", 413
            )
        managed = self._client(request, client_id)
        if isinstance(managed, HttpResponse):
            return managed
        application, token = managed
        registration = _parse_body(request)
        with transaction.atomic():
            update_client(application, registration)
            if oauth2_settings.DCR_ROTATE_REGISTRATION_TOKEN_ON_UPDATE:
                get_access_token_model().objects.filter(token_checksum=checksum(token)).delete()
                token = issue_registration_token(application)
        return JsonResponse(registration_response(request, application, registration, token))

    def delete(self, request: HttpRequest, client_id: str) -> HttpResponse:
        managed = self._client(request, client_id)
        if isinstance(managed, HttpResponse):
            return managed
        managed[0].delete()
        return HttpResponse(status=204)
