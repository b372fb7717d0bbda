"""Bearer tokens on /mcp, checked by DOT's configured validator (``OAUTH2_VALIDATOR_CLASS``).

:class:`DOTTokenVerifier` is the SDK's ``TokenVerifier``: it asks the validator DOT is
configured with whether the token may use this server's ``mcp`` scope at its resource
(``<origin>/mcp``), exactly as a DOT-protected Django view would, and turns the answer
into the SDK's ``AccessToken`` (the ``subject`` is the user, so the SDK binds sessions to
the person, not only to the client). A validator with ``avalidate_bearer_token`` (ours,
:class:`oauthapp.validator.MCPOAuth2Validator`) is awaited on the event loop; any other is
run on a thread. Nothing is cached: a revocation takes effect on the very next request.

An accepted token also marks the user's consent to the client as used (at most once a minute).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.db import DatabaseError
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import Context
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import Request as OAuthRequest

from mcpdemo import metrics
from oauthapp import consents, token_lookup

from .conf import conf

# Where the token lookup puts the tool policy version it read along (mcpapp.apps registers it).
POLICY_VERSION_ATTRIBUTE = "mcpapp_tool_policy_version"


def configured_validator() -> Any:
    """An instance of DOT's ``OAUTH2_VALIDATOR_CLASS`` (read each time, so settings overrides apply)."""
    return oauth2_settings.OAUTH2_VALIDATOR_CLASS()


def has_fast_path(validator: Any) -> bool:
    """Whether the validator can decide on the event loop (an ``async def avalidate_bearer_token``)."""
    return inspect.iscoroutinefunction(getattr(validator, "avalidate_bearer_token", None))


class UserAccessToken(AccessToken):
    """The SDK's ``AccessToken`` with what the tool policy needs, read by the same token lookup:
    whose it is, through which client, and the tool policy version (:mod:`mcpapp.permissions`)."""

    user_id: int | None = None
    application_id: int | None = None
    is_superuser: bool = False
    tool_policy_version: int = 0


@dataclass
class Verdict:
    """The validator's answer: the token as the SDK sees it, or why not (RFC 6750 error and description)."""

    access_token: AccessToken | None
    error: str = "invalid_token"
    description: str = "The access token is invalid, expired, revoked or not issued for this resource"


@dataclass
class DOTTokenVerifier:
    """The SDK's ``TokenVerifier`` for one resource (``<origin>/mcp``) and issuer (``<origin>``)."""

    resource: str
    issuer: str
    scopes: list[str] = field(default_factory=lambda: [conf.MCP_SCOPE])

    async def verify_token(self, token: str) -> AccessToken | None:
        return (await self.check(token)).access_token

    async def check(self, token: str) -> Verdict:
        """Ask the validator. A database that is down raises (``DatabaseError``): that is an outage, not a no."""
        try:
            verdict = await self._ask_validator(token)
        except DatabaseError:
            metrics.record_token_check("outage")
            raise
        metrics.record_token_check("valid" if verdict.access_token is not None else verdict.error)
        return verdict

    async def _ask_validator(self, token: str) -> Verdict:
        validator = configured_validator()
        request = OAuthRequest(self.resource, http_method="POST", headers={"Authorization": f"Bearer {token}"})
        if has_fast_path(validator):
            valid = await validator.avalidate_bearer_token(token, self.scopes, request)
        else:
            valid = await sync_to_async(validator.validate_bearer_token)(token, self.scopes, request)
        if not valid:
            reason = getattr(request, "oauth2_error", None) or {}
            verdict = Verdict(None)
            if reason.get("error") in ("invalid_token", "insufficient_scope"):
                verdict.error = reason["error"]
            if reason.get("error_description"):
                verdict.description = str(reason["error_description"])
            return verdict
        access_token = request.access_token
        user = access_token.user
        if user is not None and access_token.application_id is not None:
            _note_use(user.pk, access_token.application_id)
        # Built from values the validator has just checked and typed: no validation needed.
        return Verdict(
            UserAccessToken.model_construct(
                token=token,
                client_id=access_token.application.client_id if access_token.application else "",
                scopes=list(request.scopes),
                expires_at=int(access_token.expires.timestamp()),
                resource=self.resource,
                subject=str(user.pk) if user is not None else None,
                claims={"iss": self.issuer, "username": user.get_username() if user is not None else ""},
                user_id=user.pk if user is not None else None,
                application_id=access_token.application_id,
                is_superuser=bool(user is not None and user.is_superuser),
                tool_policy_version=getattr(access_token, POLICY_VERSION_ATTRIBUTE, 0),
            )
        )


def _note_use(user_id: int, application_id: int) -> None:
    """Pass the use on to the database on a lookup thread, at most once a minute per process."""
    if consents.claim_use_note(user_id, application_id):
        token_lookup.submit(consents.record_use, user_id, application_id)


def current_user_id(ctx: Context[Any, Any]) -> int | None:
    """The Django user id behind the MCP request a tool is serving (``None`` if anonymous)."""
    request: Any = ctx.request_context.request
    user = request.scope.get("user") if request is not None else None
    if isinstance(user, AuthenticatedUser) and user.access_token.subject:
        return int(user.access_token.subject)
    return None
