"""The authorization endpoint: sign-in, the consent page, and the redirect back to the client."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.http import HttpRequest, HttpResponse
from oauth2_provider import views as dot_views
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749.errors import CustomOAuth2Error

from .. import audit, consent_requests, consents, error_pages, public_url
from ..csp import allow_form_action_scheme
from ..parameters import repeated_description, repeated_parameter
from ..redirect_uris import describe_redirect, display_host, with_issuer
from ..tools_summary import tool_summaries

# RFC 7636 §4.2: S256 challenges are BASE64URL(SHA256(verifier)) = 43 unreserved chars.
_S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def consent_context(request: HttpRequest) -> dict[str, Any]:
    """What the consent page shows besides the client, the same in the code and the device flow."""
    # DOT counts a refresh token's lifetime from its access token's expiry.
    idle = oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS
    idle_from_issue = idle + oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS if idle else 0
    return {
        "service_host": request.get_host(),
        "tools": tool_summaries(request.user),
        "idle_days": round(idle_from_issue / 86400) if idle else None,
    }


class ConsentForm(forms.Form):
    """The person's decision on one stored request (:mod:`oauthapp.consent_requests`), nothing else."""

    allow = forms.BooleanField(required=False)
    request_id = forms.CharField(widget=forms.HiddenInput(), max_length=200)


class AuthorizationView(dot_views.AuthorizationView):
    """DOT's authorization endpoint with the MCP rules:

    - the resource defaults to ``<origin>/mcp`` and may be nothing else (RFC 8707);
    - PKCE must be S256 with a well-formed challenge (RFC 7636 §4.2);
    - no parameter but ``resource`` may be repeated (OAuth 2.1 §3.1);
    - consent is always asked: the client cannot skip it with ``approval_prompt``;
    - the decision applies to the request the page showed, stored server-side, once;
    - every redirect back to the client carries ``iss`` (RFC 9207), denials included.
    """

    template_name = "oauth2_provider/authorize.html"
    form_class = ConsentForm

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        repeated = repeated_parameter(request.GET)
        if repeated is not None:
            # A repeated client_id, redirect_uri or state leaves nowhere trustworthy to
            # send the error: oauthlib then refuses on the page (see _refuse).
            return self._refuse(request, "invalid_request", repeated_description(repeated))
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
        request.GET = query  # type: ignore[assignment]  # Django lets a view replace GET; the stubs call it immutable
        if problem:
            return self._refuse(request, *problem)
        response = super().get(request, *args, **kwargs)
        scheme = urlsplit(query.get("redirect_uri", "")).scheme.lower()
        if response.status_code == 200 and scheme not in {"http", "https", ""}:
            allow_form_action_scheme(request, scheme)  # e.g. cursor:
        return response

    def get_initial(self) -> dict[str, Any]:
        if self.request.method != "GET":
            return {}
        # DOT's initial data is the validated request the page is about to show: keep it here.
        return {"request_id": consent_requests.remember(self.request, super().get_initial())}

    def form_valid(self, form: Any) -> HttpResponse:
        stored = consent_requests.take(self.request, form.cleaned_data["request_id"])
        if stored is None:
            return self._consent_expired()
        self.consent_application = get_application_model().objects.filter(client_id=stored["client_id"] or "").first()
        if self.consent_application is None:
            return self._consent_expired()
        # DOT's form_valid reads the request from cleaned_data: give it the stored one.
        form.cleaned_data = {**stored, "allow": form.cleaned_data.get("allow")}
        return super().form_valid(form)

    def form_invalid(self, form: Any) -> HttpResponse:
        return self._consent_expired()

    def _consent_expired(self) -> HttpResponse:
        error = CustomOAuth2Error(
            error="invalid_request",
            description="This consent page has expired or was already answered.",
            status_code=400,
        )
        return self.error_response(FatalClientError(error=error), application=None, consent_expired=True)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        redirect_uri = context.get("redirect_uri") or ""
        context["redirect_host"] = display_host(redirect_uri)
        context["redirect_words"] = describe_redirect(redirect_uri) if redirect_uri else ""
        context.update(consent_context(self.request))
        return context

    def create_authorization_response(self, request: HttpRequest, scopes: str, credentials: dict, allow: bool) -> Any:
        """DOT's response to the user's decision, plus the consent record and the audit trail."""
        client_id = credentials.get("client_id", "")
        application = getattr(self, "consent_application", None)
        if application is None or application.client_id != client_id:
            application = get_application_model().objects.filter(client_id=client_id).first()
        try:
            result = super().create_authorization_response(request, scopes, credentials, allow)
        except OAuthToolkitError:
            if not allow:
                audit.by_user(request, audit.Kind.CONSENT_DENIED, application, client_id=client_id[:255])
            raise
        # Reached only when a code was issued: the client and redirect URI passed validation.
        consents.remember_consent(request.user, application, scopes)
        audit.by_user(
            request,
            audit.Kind.CONSENT_GRANTED,
            application,
            scope=scopes,
            redirect_host=display_host(credentials.get("redirect_uri") or ""),
        )
        return result

    def error_response(self, error: OAuthToolkitError, application: Any, **kwargs: Any) -> HttpResponse:
        response = super().error_response(error, application, **kwargs)
        if getattr(response, "context_data", None) is None:
            return response  # a redirect back to the client
        if self._client_is_blocked():
            # DOT reports a blocked client as unknown; tell the person what happened.
            response.context_data["client_blocked"] = True
            response.status_code = 403
        else:
            response.context_data["explanation"] = error_pages.explain(self.request, error.oauthlib_error)
        return response

    def _client_is_blocked(self) -> bool:
        application = getattr(self, "consent_application", None)
        client_id = application.client_id if application is not None else self.request.GET.get("client_id", "")
        return get_application_model().objects.filter(client_id=client_id, blocked_at__isnull=False).exists()

    def redirect(self, redirect_to: str, application: Any) -> HttpResponse:
        return super().redirect(with_issuer(redirect_to, public_url.issuer(self.request)), application)

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
