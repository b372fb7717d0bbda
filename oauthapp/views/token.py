"""The token endpoint (RFC 6749 §3.2) and revocation (RFC 7009)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import unquote

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider import views as dot_views
from oauth2_provider.models import get_application_model

from .. import audit, public_url, refresh_race
from ..endpoint_pages import BrowserPageOnGet
from ..responses import client_auth_challenge, no_store, oauth_error, refused_parameters
from ..tokens import DEVICE_CODE, GRANT_TYPES, REFRESH_TOKEN

# Every OAuth parameter that is or unlocks a credential stays out of error reports.
OAUTH_SECRET_PARAMETERS = (
    "code",
    "code_verifier",
    "device_code",
    "refresh_token",
    "token",
    "client_secret",
    "password",
    "access_token",
)


def client_id_of(request: HttpRequest) -> str:
    """The client a token-endpoint request names (form field, else HTTP Basic user), unauthenticated."""
    client_id = request.POST.get("client_id", "")
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if not client_id and scheme.lower() == "basic":
        try:
            client_id = unquote(base64.b64decode(credentials).decode("utf-8").partition(":")[0])
        except (ValueError, UnicodeDecodeError):
            client_id = ""
    return client_id


@method_decorator(sensitive_post_parameters(*OAUTH_SECRET_PARAMETERS), name="dispatch")
class TokenView(BrowserPageOnGet, dot_views.TokenView):
    """DOT's token endpoint, limited to the grants an MCP client uses.

    - ``resource`` follows the rule of /authorize (:func:`oauthapp.public_url.same_resource`).
    - No parameter but ``resource`` may be repeated (OAuth 2.1 §3.1), in the body or
      between the body and the query string.
    - One transaction per request: a lost race leaves nothing half-written, and the
      grant or refresh-token row locked first makes concurrent requests queue.
    - A refresh repeated within seconds gets the first answer again
      (:mod:`oauthapp.refresh_race`); later it is a replay and revokes the family. A token
      an administrator, the user or the client revoked is refused, and logged as such.
    - Secrets are masked in error reports; every answer is JSON that no cache keeps.
    - A failed client authentication (401) challenges for Basic, not Bearer (RFC 6749 §5.2).
    - The device grant (RFC 8628) goes through oauthlib like the others: client
      authentication, then the validator's ``validate_device_code`` (pending, slow_down,
      denied, expired), instead of DOT's status pre-check, which skips both.
    """

    endpoint_purpose = "token"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refused = refused_parameters(request)
        if refused is not None:
            return refused
        if request.POST.getlist("resource"):
            resource = public_url.mcp_resource(request)
            # The rule of /authorize: DOT then compares with the grant's canonical resource.
            body = request.POST.copy()
            body.setlist("resource", [resource])
            request.POST = body  # type: ignore[assignment]  # as request.GET in the authorization view
        grant_type = request.POST.get("grant_type", "")
        if grant_type not in GRANT_TYPES:
            if not grant_type:
                return oauth_error("invalid_request", "grant_type is required")
            return oauth_error("unsupported_grant_type", f"this server supports the grants {', '.join(GRANT_TYPES)}")
        refresh_token = request.POST.get("refresh_token", "") if grant_type == REFRESH_TOKEN else ""
        with transaction.atomic():
            if refresh_token:
                rows = refresh_race.lock_refresh_token(refresh_token)
                client_id = client_id_of(request)
                earlier = self._earlier_answer(request, refresh_token, client_id)
                if earlier is not None:
                    return no_store(HttpResponse(earlier, content_type="application/json"))
            if grant_type == DEVICE_CODE:
                response = self.authorization_flow_token_response(request)
            else:
                response = super().post(request, *args, **kwargs)
            if refresh_token and response.status_code == 200:
                refresh_race.remember(refresh_token, client_id, response.content)
            elif refresh_token and any(row.revoked for row in rows):
                refresh_race.record_refused_refresh(request, rows)
        return no_store(client_auth_challenge(response, public_url.issuer(request)))

    def _earlier_answer(self, request: HttpRequest, refresh_token: str, client_id: str) -> bytes | None:
        application = get_application_model().objects.filter(client_id=client_id).first()
        if application is None or application.is_blocked:
            return None
        if application.client_type != application.CLIENT_PUBLIC and not self.authenticate_client(request):
            return None
        return refresh_race.earlier_answer(refresh_token, client_id)


@method_decorator(sensitive_post_parameters(*OAUTH_SECRET_PARAMETERS), name="dispatch")
class RevokeTokenView(dot_views.RevokeTokenView):
    """RFC 7009 revocation (public clients identify themselves with ``client_id``)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        if response.status_code == 200 and request.POST.get("token"):
            audit.record(
                audit.Kind.TOKEN_REVOKED,
                actor=audit.Actor.CLIENT,
                request=request,
                client_id=client_id_of(request),
                token_type_hint=request.POST.get("token_type_hint", ""),
            )
        return no_store(client_auth_challenge(response, public_url.issuer(request)))
