"""RFC 7591 client metadata: what we accept, and what we answer.

DOT's registration view does the storage (application row, registration access
token, RFC 7592 management). This module adds the MCP-facing policy in front of it:
only the authorization-code grant, our redirect-URI rules, size caps, the metadata
fields clients send us echoed back, and RFC 7591's exact error codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from .redirect_uris import redirect_uri_problem

MAX_REDIRECT_URIS = 20
MAX_TEXT_FIELD_LENGTH = 255
MAX_URL_FIELD_LENGTH = 2000
MAX_CONTACTS = 10

SUPPORTED_GRANT_TYPES = ("authorization_code", "refresh_token")
SUPPORTED_AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post")

# Optional RFC 7591 §2 fields we store and echo; everything else is ignored (§3.1).
_TEXT_FIELDS = ("client_name", "software_id", "software_version")
_URL_FIELDS = ("client_uri", "logo_uri", "tos_uri", "policy_uri")
_ECHOED_FIELDS = (*_TEXT_FIELDS, *_URL_FIELDS, "contacts", "scope", "application_type")


@dataclass(frozen=True)
class RegistrationError(Exception):
    """An RFC 7591 §3.2.2 error: ``invalid_redirect_uri`` or ``invalid_client_metadata``."""

    error: str
    description: str
    status: int = 400


def _metadata_error(description: str) -> RegistrationError:
    return RegistrationError("invalid_client_metadata", description)


def _check_redirect_uris(data: dict[str, Any]) -> list[str]:
    uris = data.get("redirect_uris")
    if not isinstance(uris, list) or not uris:
        raise RegistrationError("invalid_redirect_uri", "redirect_uris must be a non-empty array of URIs")
    if len(uris) > MAX_REDIRECT_URIS:
        raise RegistrationError("invalid_redirect_uri", f"at most {MAX_REDIRECT_URIS} redirect_uris are allowed")
    for uri in uris:
        if not isinstance(uri, str):
            raise RegistrationError("invalid_redirect_uri", "each redirect_uri must be a string")
        if problem := redirect_uri_problem(uri):
            raise RegistrationError("invalid_redirect_uri", f"redirect_uri {uri[:200]!r} {problem}")
    return uris


def _check_grant_and_response_types(data: dict[str, Any]) -> list[str]:
    grant_types = data.get("grant_types", ["authorization_code"])
    if not isinstance(grant_types, list) or not all(isinstance(g, str) for g in grant_types):
        raise _metadata_error("grant_types must be an array of strings")
    unsupported = [g for g in grant_types if g not in SUPPORTED_GRANT_TYPES]
    if unsupported:
        raise _metadata_error(
            f"unsupported grant_types {unsupported!r}: this server supports only authorization_code and refresh_token"
        )
    if "authorization_code" not in grant_types:
        raise _metadata_error("grant_types must include authorization_code")
    response_types = data.get("response_types", ["code"])
    if not isinstance(response_types, list) or response_types != ["code"]:
        raise _metadata_error('response_types must be ["code"]')
    return grant_types


def _check_optional_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Validate the optional metadata we echo; return the subset to store."""
    stored: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        if name in data:
            value = data[name]
            if not isinstance(value, str) or len(value) > MAX_TEXT_FIELD_LENGTH or "\x00" in value:
                raise _metadata_error(f"{name} must be a string of at most {MAX_TEXT_FIELD_LENGTH} characters")
            stored[name] = value
    for name in _URL_FIELDS:
        if name in data:
            value = data[name]
            if (
                not isinstance(value, str)
                or len(value) > MAX_URL_FIELD_LENGTH
                or not value.lower().startswith(("https://", "http://"))
            ):
                raise _metadata_error(f"{name} must be an http(s) URL of at most {MAX_URL_FIELD_LENGTH} characters")
            stored[name] = value
    if "contacts" in data:
        contacts = data["contacts"]
        if (
            not isinstance(contacts, list)
            or len(contacts) > MAX_CONTACTS
            or not all(isinstance(c, str) and len(c) <= MAX_TEXT_FIELD_LENGTH and "\x00" not in c for c in contacts)
        ):
            raise _metadata_error(f"contacts must be an array of at most {MAX_CONTACTS} strings")
        stored["contacts"] = contacts
    if "scope" in data:
        scope = data["scope"]
        if not isinstance(scope, str):
            raise _metadata_error("scope must be a space-separated string")
        known = set(settings.OAUTH2_PROVIDER["SCOPES"])
        unknown = sorted(set(scope.split()) - known)
        if unknown:
            raise _metadata_error(f"unknown scope {' '.join(unknown)!r}; supported: {' '.join(sorted(known))}")
        stored["scope"] = " ".join(scope.split()) or settings.MCP_SCOPE
    if "application_type" in data:
        if data["application_type"] not in ("web", "native"):
            raise _metadata_error('application_type must be "web" or "native"')
        stored["application_type"] = data["application_type"]
    return stored


@dataclass(frozen=True)
class ClientRegistration:
    """A validated registration request, ready to become an ``Application``."""

    redirect_uris: list[str]
    grant_types: list[str]
    token_endpoint_auth_method: str
    metadata: dict[str, Any]

    @classmethod
    def from_application(cls, application: Any) -> ClientRegistration:
        """The registration an existing client made (as stored on the Application)."""
        metadata = dict(application.client_metadata or {})
        default_method = "none" if application.client_type == application.CLIENT_PUBLIC else "client_secret_basic"
        method = metadata.setdefault("token_endpoint_auth_method", default_method)
        return cls(application.redirect_uris.split(), list(SUPPORTED_GRANT_TYPES), method, metadata)

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"  # noqa: S105 (a method name)


def parse_registration(data: Any) -> ClientRegistration:
    """Validate an RFC 7591 registration request body (already JSON-decoded)."""
    if not isinstance(data, dict):
        raise _metadata_error("the request body must be a JSON object")
    auth_method = data.get("token_endpoint_auth_method", "client_secret_basic")
    if auth_method not in SUPPORTED_AUTH_METHODS:
        raise _metadata_error(
            f"unsupported token_endpoint_auth_method {str(auth_method)[:64]!r}; "
            f"supported: {', '.join(SUPPORTED_AUTH_METHODS)}"
        )
    grant_types = _check_grant_and_response_types(data)
    redirect_uris = _check_redirect_uris(data)
    metadata = _check_optional_fields(data)
    metadata["token_endpoint_auth_method"] = auth_method
    return ClientRegistration(redirect_uris, grant_types, auth_method, metadata)


def registration_response(application: Any, registration: ClientRegistration) -> dict[str, Any]:
    """The RFC 7591 §3.2.1 fields beyond the ones DOT's view already returns."""
    body: dict[str, Any] = {key: registration.metadata[key] for key in _ECHOED_FIELDS if key in registration.metadata}
    body.update(
        client_id_issued_at=int(application.created.timestamp()),
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method=registration.token_endpoint_auth_method,
        scope=registration.metadata.get("scope", settings.MCP_SCOPE),
    )
    return body
