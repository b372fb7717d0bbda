"""DOT's OAuth2Validator with the code-reuse and race rules an MCP server needs.

- An exchanged code leaves a :class:`ConsumedCode` row (its checksum only). A second
  use of the code revokes every token the first use produced (OAuth 2.1 §4.1.3).
- Concurrent exchanges of one code serialize on the grant row, so exactly one
  wins; the others find no grant and get ``invalid_grant`` (never a 500).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model
from oauth2_provider.oauth2_validators import OAuth2Validator

from . import audit
from .models import ConsumedCode
from .tokens import checksum

# How long an exchanged code is remembered: far past its 60 s lifetime, so a
# replay captured from a log or a history file is still recognised.
CONSUMED_CODE_MEMORY = timedelta(hours=1)


class MCPOAuth2Validator(OAuth2Validator):
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
        return grant is not None and grant.redirect_uri_allowed(redirect_uri)

    def get_code_challenge(self, code: str, request: Any) -> str | None:
        grant = self._grant(code, request.client, request)
        return (grant.code_challenge or None) if grant else None

    def get_code_challenge_method(self, code: str, request: Any) -> str | None:
        grant = self._grant(code, request.client, request)
        return (grant.code_challenge_method or None) if grant else None

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous_refresh_token):
        refresh_token = super()._create_refresh_token(request, refresh_token_code, access_token, previous_refresh_token)
        request.mcp_issued = (refresh_token, access_token)
        return refresh_token

    def invalidate_authorization_code(self, client_id: str, code: str, request: Any, *args: Any, **kwargs: Any):
        super().invalidate_authorization_code(client_id, code, request, *args, **kwargs)
        refresh_token, access_token = getattr(request, "mcp_issued", (None, None))
        ConsumedCode.objects.create(
            code_checksum=checksum(code),
            application=request.client,
            token_family=getattr(refresh_token, "token_family", None),
            access_token_checksum=getattr(access_token, "token_checksum", "") or "",
            expires=timezone.now() + CONSUMED_CODE_MEMORY,
        )
