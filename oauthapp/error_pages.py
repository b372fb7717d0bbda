"""What the authorization page says when a request cannot go on: one human sentence per cause.

DOT (through oauthlib) reports an unknown client, a client whose metadata document could
not be fetched and a missing ``client_id`` alike; the person needs to know which, and the
operator what to change. The OAuth code stays on the page, small, for whoever debugs.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.http import HttpRequest
from django.http.request import validate_host
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749.errors import (
    InvalidClientIdError,
    MismatchingRedirectURIError,
    MissingClientIdError,
    OAuth2Error,
)

from . import display
from .redirect_uris import describe_redirect

VSCODE_HINT = (
    "If it is VS Code, run “Authentication: Remove Dynamic Authentication Providers” from the "
    "Command Palette and connect again: it registers itself anew."
)


def _parameter(request: HttpRequest, name: str) -> str:
    return display.clean_text(request.GET.get(name) or request.POST.get(name) or "")


def _cimd_allowed(host: str) -> bool:
    allowed = oauth2_settings.CIMD_ALLOWED_HOSTS
    return not allowed or validate_host(host, allowed)


def explain(request: HttpRequest, error: OAuth2Error) -> dict[str, str]:
    """``{"sentence", "hint", "operator"}`` for the refused authorization request."""
    client_id = _parameter(request, "client_id")
    redirect_uri = _parameter(request, "redirect_uri")
    if isinstance(error, MissingClientIdError) or not client_id:
        return {
            "sentence": "The application that sent you here did not say which application it is.",
            "hint": "This is a fault in the application; its developer can fix it. Nothing was shared.",
        }
    if isinstance(error, MismatchingRedirectURIError):
        where = describe_redirect(redirect_uri) if redirect_uri else "an address"
        return {
            "sentence": f"The application asked to send you back to {where}, an address it never registered.",
            "hint": "You were not sent there, and nothing was shared. The application must register that address.",
        }
    if isinstance(error, InvalidClientIdError) and client_id.startswith("https://"):
        host = urlsplit(client_id).hostname or client_id
        known = get_application_model().objects.filter(client_id=client_id).exists()
        if not known:
            if not oauth2_settings.CIMD_ENABLED:
                operator = "The operator can allow them with MCPDEMO_CIMD_ENABLED=1."
                sentence = f"This server does not accept applications described by a document on {host}."
            elif not _cimd_allowed(host):
                operator = f"The operator can add {host} to MCPDEMO_CIMD_ALLOWED_HOSTS."
                sentence = (
                    f"This server accepts application descriptions only from approved sites, and {host} is not one."
                )
            else:
                operator = (
                    f"The server needs outbound HTTPS to {host}. The operator can open it, or set "
                    "MCPDEMO_CIMD_ENABLED=0 so that applications register themselves instead."
                )
                sentence = f"This server could not fetch the application’s description from {host}."
            return {"sentence": sentence, "hint": "Nothing was shared. You can close this page.", "operator": operator}
    if isinstance(error, InvalidClientIdError):
        return {
            "sentence": "This server does not know the application that sent you here.",
            "hint": "It may have been removed by an administrator, or registered with another server. " + VSCODE_HINT,
        }
    return {
        "sentence": "The application sent a request this server cannot accept.",
        "hint": "It is misconfigured; nothing was shared. You can close this page.",
    }
