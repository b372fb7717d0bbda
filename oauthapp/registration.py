"""RFC 7591 / RFC 7592 client registration: what we accept, what we store, what we answer.

DOT 3.4 ships registration views but no public hook for a registration policy, so this
module owns the small service behind ``/register``: validate the metadata (only the
authorization-code grant, with refresh, and the device grant for public clients; our
redirect-URI rules, size caps, RFC 7591's exact error codes), create the ``Application``
and its registration access token through DOT's models in one transaction, and build
the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
    set_token_value,
)
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.utils import parse_bearer_token

from mcpdemo import metrics

from . import audit, display
from .conf import conf
from .models import Consent
from .redirect_uris import display_host, redirect_uri_problem
from .tokens import AUTH_METHODS, AUTHORIZATION_CODE, DEVICE_CODE, GRANT_TYPES, REFRESH_TOKEN, checksum

MAX_REDIRECT_URIS = 20
MAX_TEXT_FIELD_LENGTH = 255
MAX_URL_FIELD_LENGTH = 2000
MAX_CONTACTS = 10


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


def granted_types(declared: Any) -> list[str]:
    """The grant types a client may use, as answered: the code grant with refresh, and the
    device grant if it declared it (DOT keeps one grant per client; see ``Application.allows_grant_type``);
    a client that declared the device grant without the code grant gets the device grant with refresh."""
    declared = declared if isinstance(declared, list) else []
    if DEVICE_CODE in declared and AUTHORIZATION_CODE not in declared:
        return [DEVICE_CODE, REFRESH_TOKEN]
    return [AUTHORIZATION_CODE, REFRESH_TOKEN, *([DEVICE_CODE] if DEVICE_CODE in declared else [])]


def device_only(grant_types: list[str]) -> bool:
    """A client of the device grant alone: no redirects, so no redirect URIs (a headless agent)."""
    return AUTHORIZATION_CODE not in grant_types


def _check_grant_and_response_types(data: dict[str, Any], public: bool) -> list[str]:
    grant_types = data.get("grant_types", ["authorization_code"])
    if not isinstance(grant_types, list) or not all(isinstance(g, str) for g in grant_types):
        raise _metadata_error("grant_types must be an array of strings")
    unsupported = [g for g in grant_types if g not in GRANT_TYPES]
    if unsupported:
        raise _metadata_error(
            f"unsupported grant_types {unsupported!r}: this server supports only authorization_code, refresh_token "
            f"and, for public clients, {DEVICE_CODE}"
        )
    if DEVICE_CODE in grant_types and not public:
        raise _metadata_error(f"{DEVICE_CODE} is for public clients (token_endpoint_auth_method none) only")
    if AUTHORIZATION_CODE not in grant_types and DEVICE_CODE not in grant_types:
        raise _metadata_error(f"grant_types must include authorization_code or {DEVICE_CODE}")
    if device_only(grant_types):
        # RFC 7591 §2.1: response types belong to the authorization endpoint, which the
        # device grant does not use.
        if data.get("response_types", []) != []:
            raise _metadata_error("response_types must be empty or absent for a client of the device grant alone")
        if data.get("redirect_uris", []) != []:
            raise _metadata_error("redirect_uris are for the authorization_code grant, which is not requested")
        return grant_types
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
        known = set(oauth2_settings.SCOPES)
        unknown = sorted(set(scope.split()) - known)
        if unknown:
            raise _metadata_error(f"unknown scope {' '.join(unknown)!r}; supported: {' '.join(sorted(known))}")
        stored["scope"] = " ".join(scope.split()) or conf.SCOPE
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
        return cls(application.redirect_uris.split(), granted_types(metadata.get("grant_types")), method, metadata)

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"  # noqa: S105 (a method name)


def parse_registration(data: Any) -> ClientRegistration:
    """Validate an RFC 7591 registration request body (already JSON-decoded)."""
    if not isinstance(data, dict):
        raise _metadata_error("the request body must be a JSON object")
    auth_method = data.get("token_endpoint_auth_method", "client_secret_basic")
    if auth_method not in AUTH_METHODS:
        raise _metadata_error(
            f"unsupported token_endpoint_auth_method {str(auth_method)[:64]!r}; supported: {', '.join(AUTH_METHODS)}"
        )
    grant_types = granted_types(_check_grant_and_response_types(data, auth_method == "none"))
    redirect_uris = [] if device_only(grant_types) else _check_redirect_uris(data)
    metadata = _check_optional_fields(data)
    metadata["token_endpoint_auth_method"] = auth_method
    metadata["grant_types"] = grant_types
    return ClientRegistration(redirect_uris, grant_types, auth_method, metadata)


def registration_response(
    request: HttpRequest, application: Any, registration: ClientRegistration, registration_token: str
) -> dict[str, Any]:
    """The RFC 7591 §3.2.1 / RFC 7592 §3 answer describing ``application``."""
    body: dict[str, Any] = {
        "client_id": application.client_id,
        "client_id_issued_at": int(application.created.timestamp()),
        "redirect_uris": application.redirect_uris.split(),
        "grant_types": registration.grant_types,
        "response_types": [] if device_only(registration.grant_types) else ["code"],
        "token_endpoint_auth_method": registration.token_endpoint_auth_method,
        "scope": registration.metadata.get("scope", conf.SCOPE),
        "registration_access_token": registration_token,
        "registration_client_uri": request.build_absolute_uri(
            reverse("oauth2_provider:dcr-register-management", kwargs={"client_id": application.client_id})
        ),
    }
    if application.name:
        body["client_name"] = application.name
    body.update({key: registration.metadata[key] for key in _ECHOED_FIELDS if key in registration.metadata})
    return body


def never_used_clients() -> Any:
    """Self-registered clients that no user ever got a grant, token or consent for."""
    Application = get_application_model()
    user_tokens = get_access_token_model().objects.filter(application=OuterRef("pk"), user__isnull=False)
    refresh_tokens = get_refresh_token_model().objects.filter(application=OuterRef("pk"))
    grants = get_grant_model().objects.filter(application=OuterRef("pk"))
    consents = Consent.objects.filter(application=OuterRef("pk"))
    return Application.objects.filter(registration_source=Application.RegistrationSource.DCR).exclude(
        Exists(user_tokens) | Exists(refresh_tokens) | Exists(grants) | Exists(consents)
    )


def unused_ceiling_retry_after() -> int | None:
    """Seconds until registration reopens when the hourly ceiling on never-used clients is reached, else None.

    Counted in the database, so every node agrees (and it holds while the cache is down);
    concurrent registrations can pass it by a few.
    """
    ceiling = settings.MCPDEMO_REGISTRATION_UNUSED_PER_HOUR
    if ceiling <= 0:
        return None
    window = timedelta(hours=1)
    recent = never_used_clients().filter(created__gte=timezone.now() - window).order_by("-created")
    created = list(recent.values_list("created", flat=True)[:ceiling])
    if len(created) < ceiling:
        return None
    # Reopens when the oldest of the newest ``ceiling`` leaves the window.
    return max(1, int((created[-1] + window - timezone.now()).total_seconds()) + 1)


def registration_allowed(request: HttpRequest) -> bool:
    """Whether every configured ``DCR_REGISTRATION_PERMISSION_CLASSES`` lets this request register (none: closed)."""
    classes = oauth2_settings.DCR_REGISTRATION_PERMISSION_CLASSES
    return bool(classes) and all(permission().has_permission(request) for permission in classes)


def _application_fields(registration: ClientRegistration) -> dict[str, Any]:
    Application = get_application_model()
    return {
        "name": display.clean_text(registration.metadata.get("client_name", "")),
        "redirect_uris": " ".join(registration.redirect_uris),
        "client_metadata": registration.metadata,
        # DOT's own grant field: a device-only client is refused the code flow by DOT itself.
        "authorization_grant_type": (
            Application.GRANT_DEVICE_CODE
            if device_only(registration.grant_types)
            else Application.GRANT_AUTHORIZATION_CODE
        ),
    }


def _validated(application: Any) -> None:
    try:
        application.full_clean()
    except ValidationError as exc:
        error = "invalid_redirect_uri" if "redirect_uris" in exc.message_dict else "invalid_client_metadata"
        raise RegistrationError(error, "; ".join(exc.messages)) from exc


def issue_registration_token(application: Any) -> str:
    """A new RFC 7592 registration access token for ``application`` (stored as DOT stores tokens); its value."""
    seconds = oauth2_settings.DCR_REGISTRATION_TOKEN_EXPIRE_SECONDS
    token = get_access_token_model()(
        application=application,
        user=None,
        expires=timezone.now() + timedelta(seconds=seconds if seconds is not None else 100 * 365 * 24 * 3600),
        scope=oauth2_settings.DCR_REGISTRATION_SCOPE,
    )
    raw_token = generate_client_secret()
    set_token_value(token, raw_token)
    token.save()
    return raw_token


@dataclass(frozen=True)
class RegisteredClient:
    application: Any
    registration_token: str
    client_secret: str | None  # shown once, to the client that registered


def create_client(request: HttpRequest, registration: ClientRegistration) -> RegisteredClient:
    """Store a validated registration: the client, its registration token and the audit event, in one transaction."""
    Application = get_application_model()
    application = Application(
        user=None,
        registration_source=Application.RegistrationSource.DCR,
        client_type=Application.CLIENT_PUBLIC if registration.is_public else Application.CLIENT_CONFIDENTIAL,
        **_application_fields(registration),
    )
    # The generated secret, before save() hashes it.
    client_secret = None if registration.is_public else application.client_secret
    _validated(application)
    with transaction.atomic():
        application.save()
        registration_token = issue_registration_token(application)
        audit.record(
            audit.Kind.CLIENT_REGISTERED,
            actor=audit.Actor.CLIENT,
            request=request,
            application=application,
            client_name=application.name,
            client_type=application.client_type,
            redirect_hosts=sorted({display_host(uri) for uri in registration.redirect_uris}),
        )
    metrics.record_registration(application.client_type)
    return RegisteredClient(application, registration_token, client_secret)


def update_client(application: Any, registration: ClientRegistration) -> None:
    """RFC 7592 §2.2: the registration replaces the client's metadata (its type cannot change)."""
    if registration.is_public != (application.client_type == application.CLIENT_PUBLIC):
        raise _metadata_error("token_endpoint_auth_method cannot change client type")
    for field, value in _application_fields(registration).items():
        setattr(application, field, value)
    _validated(application)
    application.save()


def managed_client(request: HttpRequest, client_id: str) -> tuple[Any, str] | None:
    """The self-registered client whose registration access token this request presents, and that token.

    ``None`` for a missing, unknown, expired or foreign token, or a client that did not register itself.
    """
    presented = parse_bearer_token(request.META.get("HTTP_AUTHORIZATION", ""))
    if presented is None:
        return None
    token = (
        get_access_token_model()
        .objects.select_related("application")
        .filter(token_checksum=checksum(presented), user__isnull=True)
        .first()
    )
    if token is None or not token.is_valid([oauth2_settings.DCR_REGISTRATION_SCOPE]):
        return None
    application = token.application
    if application is None or application.client_id != client_id:
        return None
    if application.registration_source != application.RegistrationSource.DCR:
        return None
    return application, presented
