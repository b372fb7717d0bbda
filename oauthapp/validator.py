"""DOT's OAuth2Validator with the rules an MCP server needs: the one place that decides on tokens.

Bearer tokens (``/mcp``): DOT's own rules, decided by its model methods
(``AccessToken.is_valid(scopes)``, ``allows_audience`` through
``RESOURCE_SERVER_TOKEN_RESOURCE_VALIDATOR``, ``Application.is_usable``), plus three of
ours, stated once in :meth:`MCPOAuth2Validator.accept_bearer_token`: the token must be bound
to a resource (an unbound token is not ours to accept), that resource must be exactly this
server's (:func:`exact_resource`), and the user must exist and be active. The token is
loaded by :mod:`oauthapp.token_lookup` (one indexed read; on the event loop in
:meth:`~MCPOAuth2Validator.avalidate_bearer_token`), never cached: a revocation takes
effect on the next request.

Device codes (RFC 8628): :meth:`MCPOAuth2Validator.validate_device_code` is oauthlib's
hook; it answers pending, ``slow_down`` (and raises the interval), denied or expired from
the grant row, which it locks; an approved grant gives the token its user, scope and
resource, then is deleted, so a device code is redeemed once.

Codes:
- An exchanged code leaves a :class:`ConsumedCode` row (its checksum only). A second
  use of the code revokes every token the first use produced (OAuth 2.1 §4.1.3).
- Concurrent exchanges of one code serialize on the grant row, so exactly one
  wins; the others find no grant and get ``invalid_grant`` (never a 500).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.utils import timezone
from oauth2_provider.models import (
    AbstractAccessToken,
    get_access_token_model,
    get_device_grant_model,
    get_grant_model,
    get_refresh_token_model,
)
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError, MismatchingRedirectURIError
from oauthlib.oauth2.rfc8628.grant_types import DeviceCodeGrant

from . import audit, token_lookup
from .models import ConsumedCode
from .redirect_uris import matches_but_for_case
from .tokens import checksum

# How long an exchanged code is remembered: far past its 60 s lifetime, so a
# replay captured from a log or a history file is still recognised.
CONSUMED_CODE_MEMORY = timedelta(hours=1)
# RFC 8628 §3.5: each slow_down adds this to the interval, for that and every later poll.
SLOW_DOWN_STEP_SECONDS = 5
# A poll this much early still counts as on time (timers and networks jitter).
POLL_LENIENCY_SECONDS = 0.5


def exact_resource(request_uri: str, audiences: Sequence[str]) -> bool:
    """``RESOURCE_SERVER_TOKEN_RESOURCE_VALIDATOR``: a token is good for exactly the resource it names.

    DOT's default accepts any URI below the token's resource; RFC 8707 and the MCP
    authorization spec bind a token to the one resource it was issued for.
    """
    return request_uri in audiences


def _refuse(request: Any, description: str, error: str = "invalid_token") -> bool:
    """Refuse, saying why on the request (``request.oauth2_error``), as DOT's validator does."""
    request.oauth2_error = OrderedDict([("error", error), ("error_description", description)])
    return False


class MCPOAuth2Validator(OAuth2Validator):
    # --- Bearer tokens ---------------------------------------------------------------

    def validate_bearer_token(self, token: str, scopes: Sequence[str], request: Any) -> bool:
        """Whether ``token`` may be used for ``scopes`` at ``request.uri`` (the resource); DOT's signature."""
        if not token:
            return False
        if oauth2_settings.RESOURCE_SERVER_INTROSPECTION_URL:
            # Tokens of another authorization server: DOT's path, which asks it; then our rules.
            return super().validate_bearer_token(token, scopes, request) and self.accept_bearer_token(
                request.access_token, scopes, request
            )
        return self.accept_bearer_token(token_lookup.load(token), scopes, request)

    async def avalidate_bearer_token(self, token: str, scopes: Sequence[str], request: Any) -> bool:
        """:meth:`validate_bearer_token` for the event loop: the same decision, the token read without a thread hop.

        A subclass that overrides only :meth:`validate_bearer_token` is honoured: its
        method runs, on a thread.
        """
        if (
            not token
            or oauth2_settings.RESOURCE_SERVER_INTROSPECTION_URL
            or type(self).validate_bearer_token is not MCPOAuth2Validator.validate_bearer_token
        ):
            return await sync_to_async(self.validate_bearer_token)(token, scopes, request)
        return self.accept_bearer_token(await token_lookup.aload(token), scopes, request)

    def accept_bearer_token(
        self, access_token: AbstractAccessToken | None, scopes: Sequence[str], request: Any
    ) -> bool:
        """The decision on a loaded token: DOT's rules through its model methods, and ours.

        Sets what DOT's ``validate_bearer_token`` sets: ``request.access_token``, ``client``,
        ``user``, ``scopes`` on success, ``request.oauth2_error`` on refusal.
        """
        request_uri = (getattr(request, "uri", None) or "").split("?")[0]
        if access_token is None:
            return _refuse(request, "The access token is invalid.")
        if access_token.is_expired():
            return _refuse(request, "The access token has expired.")
        if not access_token.resource:
            return _refuse(request, "The access token is not bound to a resource.")
        if not access_token.allows_audience(request_uri):
            return _refuse(request, "The access token is not valid for this resource.")
        application = access_token.application
        if application is not None and not application.is_usable(request):
            return _refuse(request, "The access token is invalid.")
        user = access_token.user
        if user is None or not user.is_active:
            return _refuse(request, "The access token does not belong to an active user.")
        # Last, so that only a token otherwise good here is told it lacks scope (403, RFC 6750 §3.1).
        if not access_token.is_valid(scopes):
            return _refuse(request, "The access token lacks the scope this resource needs.", "insufficient_scope")
        request.client = application
        request.user = user
        request.scopes = list(access_token.scopes)
        request.access_token = access_token
        return True

    # --- Redirect URIs -----------------------------------------------------------------

    def validate_redirect_uri(self, client_id: str, redirect_uri: str, request: Any, *args: Any, **kwargs: Any) -> bool:
        """DOT's check (``Application.redirect_uri_allowed``, an exact string match), saying why
        when only letter case differs: the person sees an error page, never a redirect."""
        if super().validate_redirect_uri(client_id, redirect_uri, request, *args, **kwargs):
            return True
        if matches_but_for_case(redirect_uri, request.client.redirect_uris.split()):
            raise MismatchingRedirectURIError(
                description="The redirect URI differs from the registered one in letter case; "
                "redirect URIs must match the registration exactly.",
                request=request,
            )
        return False

    # --- Authorization codes ---------------------------------------------------------

    def validate_code(self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any) -> bool:
        # Lock the grant for the rest of the token request (the token view is atomic):
        # a concurrent exchange of the same code waits here, then finds it gone.
        grant = get_grant_model().objects.select_for_update().filter(code=code, application=client).first()
        if grant is None:
            self._revoke_if_replayed(code, request)
            return False
        request.mcp_grant = (code, grant)  # the locked row, for the checks that follow
        return super().validate_code(client_id, code, client, request, *args, **kwargs)

    def _grant(self, code: str, client: Any, request: Any = None) -> Any:
        """The grant of ``code``: the row ``validate_code`` locked, else read now.

        oauthlib asks for the redirect URI and both PKCE values separately, and DOT reads
        the grant again for each; within one token request the locked row cannot change.
        """
        code_and_grant = getattr(request, "mcp_grant", None)
        if code_and_grant is not None and code_and_grant[0] == code and code_and_grant[1].application_id == client.pk:
            return code_and_grant[1]
        return get_grant_model().objects.filter(code=code, application=client).first()

    def _revoke_if_replayed(self, code: str, request: Any) -> None:
        consumed = ConsumedCode.objects.filter(code_checksum=checksum(code)).select_related("application").first()
        if consumed is None:
            return
        if consumed.token_family:
            get_refresh_token_model().revoke_family(consumed.token_family)
        if consumed.access_token_checksum:
            get_access_token_model().objects.filter(token_checksum=consumed.access_token_checksum).delete()
        audit.record(
            audit.Kind.CODE_REUSE_DETECTED,
            actor=audit.Actor.CLIENT,
            application=consumed.application,
            action="revoked every token issued from the code",
        )

    # DOT reads the grant with .get() in these; after a lost race it is gone, which
    # must read as "invalid grant", not raise DoesNotExist (a 500).
    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request=None, *args, **kwargs) -> bool:
        grant = self._grant(code, client, request)
        if grant is None or not grant.redirect_uri_allowed(redirect_uri):
            # oauthlib answers a False here with invalid_request; the grant is what does
            # not match the request, which RFC 6749 §5.2 calls invalid_grant.
            raise InvalidGrantError(
                description="The redirect_uri differs from the one the code was issued for.", request=request
            )
        return True

    def get_code_challenge(self, code: str, request: Any) -> str | None:
        grant = self._grant(code, request.client, request)
        return (grant.code_challenge or None) if grant else None

    def get_code_challenge_method(self, code: str, request: Any) -> str | None:
        grant = self._grant(code, request.client, request)
        return (grant.code_challenge_method or None) if grant else None

    # --- Device codes (RFC 8628) -------------------------------------------------------

    def validate_device_code(self, client_id: str, code: str, request: Any, *args: Any, **kwargs: Any) -> str | None:
        """oauthlib's hook: the grant's status for a poll by ``client_id``, ``None`` if there is no such grant."""
        grant = (
            get_device_grant_model().objects.select_for_update().filter(device_code=code, client_id=client_id).first()
        )
        if grant is None:
            return None
        if grant.is_expired():  # DOT's rule; it also marks the grant expired
            return DeviceCodeGrant.DEVICE_CODE_EXPIRED
        if grant.status == grant.DENIED:
            return DeviceCodeGrant.DEVICE_CODE_DENIED
        if grant.status == grant.AUTHORIZED and grant.user is not None and grant.user.is_active:
            request.user = grant.user
            request.scopes = grant.scope.split()
            request.resource = list(grant.resource)  # DOT binds the token to it (RFC 8707)
            request.mcp_device_grant = grant
            return DeviceCodeGrant.DEVICE_CODE_AUTHORIZED
        if grant.status != grant.AUTHORIZATION_PENDING:
            return None
        too_soon = (timezone.now() - grant.last_checked).total_seconds() + POLL_LENIENCY_SECONDS < grant.interval
        if too_soon:
            grant.interval += SLOW_DOWN_STEP_SECONDS
        grant.save(update_fields=["interval", "last_checked"])  # last_checked: now (auto_now)
        return DeviceCodeGrant.DEVICE_CODE_SLOW_DOWN if too_soon else DeviceCodeGrant.DEVICE_CODE_PENDING

    def save_bearer_token(self, token: dict[str, Any], request: Any, *args: Any, **kwargs: Any) -> Any:
        result = super().save_bearer_token(token, request, *args, **kwargs)
        device_grant = getattr(request, "mcp_device_grant", None)
        if device_grant is not None:
            device_grant.delete()  # redeemed: the device code is good for one token
        # What the code (if this is a code exchange) produced, for ConsumedCode below.
        request.mcp_issued = (token.get("access_token", ""), token.get("refresh_token", ""))
        return result

    def invalidate_authorization_code(self, client_id: str, code: str, request: Any, *args: Any, **kwargs: Any):
        super().invalidate_authorization_code(client_id, code, request, *args, **kwargs)
        access_token, refresh_token = getattr(request, "mcp_issued", ("", ""))
        family = (
            get_refresh_token_model()
            .objects.filter(token_checksum=checksum(refresh_token))
            .values_list("token_family", flat=True)
            .first()
            if refresh_token
            else None
        )
        ConsumedCode.objects.create(
            code_checksum=checksum(code),
            application=request.client,
            token_family=family,
            access_token_checksum=checksum(access_token) if access_token else "",
            expires=timezone.now() + CONSUMED_CODE_MEMORY,
        )
