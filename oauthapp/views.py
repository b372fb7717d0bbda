"""HTTP views of the authorization server: DOT's views with our MCP policy on top."""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.exceptions import SuspiciousOperation, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider import views as dot_views
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.models import get_application_model
from oauth2_provider.oauth2_backends import _add_iss_to_redirect
from oauth2_provider.views.dynamic_client_registration import (
    _application_to_response,
    _check_permissions,
    _issue_registration_token,
)
from oauthlib.oauth2.rfc6749.errors import CustomOAuth2Error

from . import audit, connections, public_url, refresh_race
from .registration import ClientRegistration, RegistrationError, parse_registration, registration_response

MAX_REGISTRATION_BODY_BYTES = 64 * 1024

# RFC 7636 §4.2: S256 challenges are BASE64URL(SHA256(verifier)) = 43 unreserved chars.
_S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")

# Every OAuth parameter that is or unlocks a credential stays out of error reports.
OAUTH_SECRET_PARAMETERS = (
    "code",
    "code_verifier",
    "refresh_token",
    "token",
    "client_secret",
    "password",
    "access_token",
)


def oauth_error(error: str, description: str, status: int = 400) -> JsonResponse:
    """An RFC 6749 §5.2 / RFC 7591 §3.2.2 JSON error that no cache keeps."""
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


class ServerMetadataView(dot_views.OAuthServerMetadataView):
    """RFC 8414 metadata; DOT builds it from our ``OAUTH2_PROVIDER`` settings."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        response["Cache-Control"] = "public, max-age=300"
        return response


class ProtectedResourceMetadataView(dot_views.OAuthProtectedResourceMetadataView):
    """RFC 9728 metadata for ``/mcp``, served at the path-inserted and the root location."""

    def get_resource(self, request: HttpRequest) -> str:
        return public_url.mcp_resource(request)

    def get_authorization_servers(self, request: HttpRequest) -> list[str]:
        return [public_url.issuer(request)]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        response["Cache-Control"] = "public, max-age=300"
        return response


class AuthorizationView(dot_views.AuthorizationView):
    """DOT's authorization endpoint with the MCP rules:

    - the resource defaults to ``<origin>/mcp`` and may be nothing else (RFC 8707);
    - PKCE must be S256 with a well-formed challenge (RFC 7636 §4.2);
    - consent is always asked: the client cannot skip it with ``approval_prompt``;
    - every redirect back to the client carries ``iss`` (RFC 9207), denials included.
    """

    template_name = "oauth2_provider/authorize.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        query = request.GET.copy()
        query.pop("approval_prompt", None)
        resource = public_url.mcp_resource(request)
        requested = query.getlist("resource")
        problem: tuple[str, str] | None = None
        if any(not public_url.same_resource(r, resource) for r in requested):
            problem = ("invalid_target", f"this server only issues tokens for the resource {resource}")
        elif query.get("code_challenge_method", "plain") != "S256":
            problem = ("invalid_request", "PKCE with code_challenge_method=S256 is required")
        elif not _S256_CHALLENGE.match(query.get("code_challenge", "")):
            problem = ("invalid_request", "code_challenge must be 43 base64url characters (RFC 7636)")
        query.setlist("resource", [resource])
        request.GET = query
        if problem:
            return self._refuse(request, *problem)
        response = super().get(request, *args, **kwargs)
        scheme = urlsplit(query.get("redirect_uri", "")).scheme.lower()
        if response.status_code == 200 and scheme not in {"http", "https", ""}:
            # Browsers apply the page's CSP form-action to the redirect that follows the
            # form: allow the client's registered private-use scheme (e.g. cursor:).
            response._csp_update = {"form-action": [f"{scheme}:"]}
        return response

    def form_valid(self, form: Any) -> HttpResponse:
        self.consent_application = (
            get_application_model().objects.filter(client_id=form.cleaned_data.get("client_id") or "").first()
        )
        if self.consent_application is None:
            # Only a tampered form names an unknown client; DOT would fail with DoesNotExist (500).
            raise SuspiciousOperation("consent form for an unknown client")
        # The hidden fields come back from the browser: pin the resource, recheck PKCE.
        form.cleaned_data["resource"] = public_url.mcp_resource(self.request)
        if form.cleaned_data.get("code_challenge_method") != "S256" or not _S256_CHALLENGE.match(
            form.cleaned_data.get("code_challenge") or ""
        ):
            form.cleaned_data["code_challenge_method"] = "plain"  # refused by DOT's RFC 9700 gate
        return super().form_valid(form)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        redirect_uri = context.get("redirect_uri") or ""
        context["redirect_host"] = _display_host(redirect_uri)
        return context

    def create_authorization_response(self, request: HttpRequest, scopes: str, credentials: dict, allow: bool) -> Any:
        """DOT's response to the user's decision, plus the connection and the audit trail."""
        client_id = credentials.get("client_id", "")
        application = getattr(self, "consent_application", None)
        if application is None or application.client_id != client_id:
            application = get_application_model().objects.filter(client_id=client_id).first()
        try:
            result = super().create_authorization_response(request, scopes, credentials, allow)
        except OAuthToolkitError:
            if not allow:
                audit.record(
                    audit.Kind.CONSENT_DENIED,
                    actor=audit.Actor.USER,
                    request=request,
                    actor_user=request.user,
                    user=request.user,
                    application=application,
                    client_id=credentials.get("client_id", "")[:255],
                )
            raise
        # Reached only when a code was issued: the client and redirect URI passed validation.
        connections.remember_consent(request.user, application, scopes)
        audit.record(
            audit.Kind.CONSENT_GRANTED,
            actor=audit.Actor.USER,
            request=request,
            actor_user=request.user,
            user=request.user,
            application=application,
            scope=scopes,
            redirect_host=_display_host(credentials.get("redirect_uri") or ""),
        )
        return result

    def error_response(self, error: OAuthToolkitError, application: Any, **kwargs: Any) -> HttpResponse:
        response = super().error_response(error, application, **kwargs)
        if getattr(response, "context_data", None) is not None and self._client_is_blocked():
            # DOT reports a blocked client as unknown; tell the person what happened.
            response.context_data["client_blocked"] = True
            response.status_code = 403
        return response

    def _client_is_blocked(self) -> bool:
        client_id = self.request.GET.get("client_id") or self.request.POST.get("client_id") or ""
        return get_application_model().objects.filter(client_id=client_id, blocked_at__isnull=False).exists()

    def redirect(self, redirect_to: str, application: Any) -> HttpResponse:
        return super().redirect(_add_iss_to_redirect(redirect_to, public_url.issuer(self.request)), application)

    def _refuse(self, request: HttpRequest, error: str, description: str) -> HttpResponse:
        """Answer ``error``, by redirect only once client and redirect URI are known good."""
        try:
            _scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as exc:
            return self.error_response(exc, application=None)
        application = get_application_model().objects.get(client_id=credentials["client_id"])
        oauth_exc = OAuthToolkitError(
            error=CustomOAuth2Error(error=error, description=description, state=credentials.get("state")),
            redirect_uri=credentials["redirect_uri"],
        )
        return self.error_response(oauth_exc, application)


def _display_host(uri: str) -> str:
    parts = urlsplit(uri)
    return parts.netloc or f"{parts.scheme}:"


SUPPORTED_GRANT_TYPES = ("authorization_code", "refresh_token")


def _as_json_no_store(response: HttpResponse) -> HttpResponse:
    # Some oauthlib error paths come back without a Content-Type; every body here is JSON.
    if response.content and not response.get("Content-Type", "").startswith("application/json"):
        response["Content-Type"] = "application/json"
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


@method_decorator(sensitive_post_parameters(*OAUTH_SECRET_PARAMETERS), name="dispatch")
class TokenView(dot_views.TokenView):
    """DOT's token endpoint, limited to the grants an MCP client uses.

    - One transaction per request: a lost race leaves nothing half-written, and the
      grant or refresh-token row locked first makes concurrent requests queue.
    - A refresh repeated within seconds gets the first answer again
      (:mod:`oauthapp.refresh_race`); later it is a replay and revokes the family.
    - Secrets are masked in error reports; every answer is JSON that no cache keeps.
    """

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        grant_type = request.POST.get("grant_type", "")
        if grant_type not in SUPPORTED_GRANT_TYPES:
            return oauth_error(
                "unsupported_grant_type" if grant_type else "invalid_request",
                "this server supports the authorization_code and refresh_token grants"
                if grant_type
                else "grant_type is required",
            )
        refresh_token = request.POST.get("refresh_token", "") if grant_type == "refresh_token" else ""
        with transaction.atomic():
            if refresh_token:
                rows = refresh_race.lock_refresh_token(refresh_token)
                client_id = self._client_id(request)
                earlier = self._earlier_answer(request, refresh_token, client_id)
                if earlier is not None:
                    return _as_json_no_store(HttpResponse(earlier, content_type="application/json"))
            response = super().post(request, *args, **kwargs)
            if refresh_token and response.status_code == 200:
                refresh_race.remember(refresh_token, client_id, response.content)
            elif refresh_token and any(row.revoked for row in rows):
                audit.record(
                    audit.Kind.REFRESH_REUSE_DETECTED,
                    actor=audit.Actor.CLIENT,
                    request=request,
                    user=rows[0].user,
                    application=rows[0].application,
                    action="a rotated or revoked refresh token was presented; its family is revoked",
                )
        return _as_json_no_store(response)

    @staticmethod
    def _client_id(request: HttpRequest) -> str:
        client_id = request.POST.get("client_id", "")
        scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if not client_id and scheme.lower() == "basic":
            try:
                client_id = unquote(base64.b64decode(credentials).decode("utf-8").partition(":")[0])
            except (ValueError, UnicodeDecodeError):
                client_id = ""
        return client_id

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
                client_id=TokenView._client_id(request),
                token_type_hint=request.POST.get("token_type_hint", ""),
            )
        return _as_json_no_store(response)


def _parse_body(request: HttpRequest) -> Any:
    if len(request.body) > MAX_REGISTRATION_BODY_BYTES:  # a chunked body declares no length
        raise RegistrationError("invalid_client_metadata", f"the body exceeds {MAX_REGISTRATION_BODY_BYTES} bytes", 413)
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: deeply nested arrays
        raise RegistrationError("invalid_client_metadata", "the request body must be valid JSON") from exc


def _too_large(request: HttpRequest) -> bool:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    return declared > MAX_REGISTRATION_BODY_BYTES


class RegistrationView(dot_views.DynamicClientRegistrationView):
    """RFC 7591 registration: our validation, then DOT's storage and response."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if _too_large(request):
            return oauth_error("invalid_client_metadata", f"the body exceeds {MAX_REGISTRATION_BODY_BYTES} bytes", 413)
        if not _check_permissions(request):
            return oauth_error("access_denied", "registration is not open", 401)
        try:
            registration = parse_registration(_parse_body(request))
        except RegistrationError as exc:
            return oauth_error(exc.error, exc.description, exc.status)

        application = _new_application(registration)
        raw_secret = None if registration.is_public else application.client_secret
        try:
            application.full_clean()
        except ValidationError as exc:
            error = "invalid_redirect_uri" if "redirect_uris" in exc.message_dict else "invalid_client_metadata"
            return oauth_error(error, "; ".join(exc.messages))
        with transaction.atomic():
            application.save()
            registration_token = _issue_registration_token(application, None)
            audit.record(
                audit.Kind.CLIENT_REGISTERED,
                actor=audit.Actor.CLIENT,
                request=request,
                application=application,
                client_name=application.name,
                client_type=application.client_type,
                redirect_hosts=sorted({_display_host(uri) for uri in registration.redirect_uris}),
            )

        body = _application_to_response(application, registration_token, request)
        body.update(registration_response(application, registration))
        if raw_secret:
            body["client_secret"] = raw_secret
            body["client_secret_expires_at"] = 0
        response = JsonResponse(body, status=201)
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        return response


def _new_application(registration: ClientRegistration) -> Any:
    Application = get_application_model()
    return Application(
        user=None,
        registration_source=Application.RegistrationSource.DCR,
        name=registration.metadata.get("client_name", ""),
        redirect_uris=" ".join(registration.redirect_uris),
        client_type=Application.CLIENT_PUBLIC if registration.is_public else Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        client_metadata=registration.metadata,
    )


class RegistrationManagementView(dot_views.DynamicClientRegistrationManagementView):
    """RFC 7592 read/update/delete; updates pass the same policy as registration."""

    def put(self, request: HttpRequest, client_id: str, *args: Any, **kwargs: Any) -> HttpResponse:
        if _too_large(request):
            return oauth_error("invalid_client_metadata", f"the body exceeds {MAX_REGISTRATION_BODY_BYTES} bytes", 413)
        auth = self._authenticate_registration_request(request, client_id)
        if isinstance(auth, HttpResponse):
            return auth
        try:
            registration = parse_registration(_parse_body(request))
        except RegistrationError as exc:
            return oauth_error(exc.error, exc.description, exc.status)
        if registration.is_public != (auth.application.client_type == auth.application.CLIENT_PUBLIC):
            return oauth_error("invalid_client_metadata", "token_endpoint_auth_method cannot change client type")
        response = super().put(request, client_id, *args, **kwargs)
        if response.status_code == 200:
            auth.application.refresh_from_db()
            auth.application.client_metadata = registration.metadata
            auth.application.save(update_fields=["client_metadata"])
        return self._describe(response, client_id)

    def get(self, request: HttpRequest, client_id: str, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._describe(super().get(request, client_id, *args, **kwargs), client_id)

    def _describe(self, response: HttpResponse, client_id: str) -> HttpResponse:
        """Complete DOT's answer with what the client registered (RFC 7592 §3)."""
        if response.status_code == 200:
            application = get_application_model().objects.get(client_id=client_id)
            body = json.loads(response.content)
            body.update(registration_response(application, ClientRegistration.from_application(application)))
            response = JsonResponse(body)
        return _as_json_no_store(response)
