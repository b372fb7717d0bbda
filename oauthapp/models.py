"""Our OAuth client model: DOT's Application plus the policy an MCP server needs."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import AbstractApplication, AbstractDeviceGrant, ApplicationManager

from . import display
from .redirect_uris import private_use_schemes, redirect_uri_matches, redirect_uri_problem
from .tokens import DEVICE_CODE


class Application(AbstractApplication):
    """An OAuth client (swapped in via ``OAUTH2_PROVIDER_APPLICATION_MODEL``).

    - Redirect URIs follow :mod:`oauthapp.redirect_uris` on every save path
      (registration endpoint, admin, shell), because ``full_clean`` runs our ``clean``.
    - A requested redirect URI must equal a registered one as a string; only a loopback
      port may differ (:func:`~oauthapp.redirect_uris.redirect_uri_matches`). DOT's own
      check compares parsed parts, so re-cased schemes and hosts would pass it.
    - Public clients carry no secret: hashing an unused secret with PBKDF2 costs
      ~0.2 s of CPU per registration and protects nothing.
    """

    client_metadata = models.JSONField(
        default=dict,
        blank=True,
        verbose_name=_("client metadata"),
        help_text=_("RFC 7591 metadata the client registered (client_uri, logo_uri, scope, ...)."),
    )

    blocked_at = models.DateTimeField(
        null=True,
        blank=True,
        verbose_name=_("blocked at"),
        help_text=_("A blocked client gets no new authorizations or tokens; unblock by clearing this."),
    )

    objects = ApplicationManager()

    class Meta(AbstractApplication.Meta):
        verbose_name = _("application")
        verbose_name_plural = _("applications")

    def natural_key(self) -> tuple[str]:
        return (self.client_id,)

    def __str__(self) -> str:
        # The admin puts this in titles, breadcrumbs and labels: cleaned, short, told apart by ID.
        return display.client_label(self, display.DISPLAY_LENGTH)

    @property
    def is_blocked(self) -> bool:
        return self.blocked_at is not None

    def is_usable(self, request: object) -> bool:
        # DOT asks this on every authorization and token request.
        return not self.is_blocked

    def allows_grant_type(self, *grant_types: str) -> bool:
        # DOT keeps one grant per client; the device grant is also open to a public client
        # that declared it (its registration or its metadata document lists it).
        return super().allows_grant_type(*grant_types) or (DEVICE_CODE in grant_types and self.allows_device_grant)

    @property
    def allows_device_grant(self) -> bool:
        if self.authorization_grant_type == self.GRANT_DEVICE_CODE:
            return True  # a client of the device grant alone (DOT's own grant field says so)
        declared = (self.client_metadata or {}).get("grant_types") or []
        return self.client_type == self.CLIENT_PUBLIC and isinstance(declared, list) and DEVICE_CODE in declared

    def redirect_uri_allowed(self, uri: str) -> bool:
        # DOT asks this wherever a request names a redirect URI (authorization, consent).
        return isinstance(uri, str) and any(
            redirect_uri_matches(uri, registered) for registered in self.redirect_uris.split()
        )

    def get_allowed_schemes(self) -> list[str]:
        # DOT checks registered URIs and the final redirect against this list; add the
        # private-use schemes this client registered (e.g. Cursor's cursor://).
        return ["http", "https", *sorted(private_use_schemes(self.redirect_uris.split()))]

    def clean(self) -> None:
        problems = [
            ValidationError(_("%(uri)s %(problem)s"), params={"uri": uri, "problem": problem})
            for uri in self.redirect_uris.split()
            if (problem := redirect_uri_problem(uri))
        ]
        if problems:
            raise ValidationError({"redirect_uris": problems})
        super().clean()

    def save(self, *args, **kwargs) -> None:
        if self.client_type == self.CLIENT_PUBLIC and self._state.adding:
            self.client_secret = ""
            self.hash_client_secret = False
        super().save(*args, **kwargs)


class Consent(models.Model):
    """A user's standing authorization of a client (their "connection" to it): consented when, last used when."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oauth_consents")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="consents")
    scope = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    last_authorized_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "application"], name="one_consent_per_user_client")]
        verbose_name = _("connection")  # what people call it (Connected apps)
        verbose_name_plural = _("connections")

    def __str__(self) -> str:
        return f"{self.user} → {self.application}"


class AuditEvent(models.Model):
    """A security-relevant event, for administrators. Never holds a token, code or secret."""

    class Kind(models.TextChoices):
        CLIENT_REGISTERED = "client_registered", _("client registered")
        CONSENT_GRANTED = "consent_granted", _("consent granted")
        CONSENT_DENIED = "consent_denied", _("consent denied")
        TOKEN_ISSUED = "token_issued", _("token issued")
        TOKEN_REFRESHED = "token_refreshed", _("token refreshed")
        TOKEN_REVOKED = "token_revoked", _("token revoked")
        REFRESH_REUSE_DETECTED = "refresh_reuse_detected", _("refresh token reuse detected")
        # A revoked (not rotated) refresh token came back: the client was signed out, not attacked.
        REFRESH_REFUSED = "refresh_refused", _("refresh refused")
        CODE_REUSE_DETECTED = "code_reuse_detected", _("authorization code reuse detected")
        CLIENT_BLOCKED = "client_blocked", _("client blocked")
        CLIENT_UNBLOCKED = "client_unblocked", _("client unblocked")
        SIGN_IN_FAILED = "sign_in_failed", _("sign-in failed")
        TOOL_REFUSED = "tool_refused", _("tool call refused")

    # Kinds that mean someone replayed a credential: the admin makes them stand out.
    ALARMS = frozenset({Kind.REFRESH_REUSE_DETECTED, Kind.CODE_REUSE_DETECTED})

    class Actor(models.TextChoices):
        USER = "user", _("user")
        ADMIN = "admin", _("administrator")
        CLIENT = "client", _("client")
        SYSTEM = "system", _("system")

    created = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=32, choices=Kind.choices, db_index=True)
    actor = models.CharField(max_length=16, choices=Actor.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    application = models.ForeignKey(Application, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    client_id = models.CharField(max_length=255, blank=True, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.created:%Y-%m-%d %H:%M:%S} {self.get_kind_display()} {self.client_id}"


class ConsumedCode(models.Model):
    """An authorization code that was exchanged, kept until it would have expired.

    DOT deletes a grant when its code is used, which forgets which tokens it produced.
    A second use of the code is an attack (OAuth 2.1 §4.1.3): this row lets us revoke
    every token issued from it. Only a checksum of the code is stored.
    """

    code_checksum = models.CharField(max_length=64, unique=True)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="+")
    token_family = models.UUIDField(null=True)
    access_token_checksum = models.CharField(max_length=64, blank=True)
    expires = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"code used by {self.application_id}, kept until {self.expires:%Y-%m-%d %H:%M:%S}"


class RefreshReplay(models.Model):
    """The answer to a refresh, kept a few seconds for a client that races itself.

    Two windows of one client may refresh with the same token at once. The loser gets
    the winner's answer instead of tripping reuse detection. The answer is encrypted
    with a key derived from the old refresh token, which is itself stored only as a
    checksum, so this table reveals nothing without the token the client holds.
    """

    refresh_token_checksum = models.CharField(max_length=64, unique=True)
    ciphertext = models.BinaryField()
    expires = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"refresh answer kept until {self.expires:%Y-%m-%d %H:%M:%S}"


class DeviceGrant(AbstractDeviceGrant):
    """DOT's device authorization (RFC 8628), swapped in via ``OAUTH2_PROVIDER_DEVICE_GRANT_MODEL``.

    - ``resource``: what the token will be bound to (RFC 8707), as on DOT's code grants.
    - ``client_id`` is as long as an Application's: a CIMD client's id is its document URL.
    - ``user`` is the account that entered the user code first; only it can approve, and
      the token is issued to it (:mod:`oauthapp.views.device`).
    """

    client_id = models.CharField(max_length=255, db_index=True, verbose_name=_("client ID"))
    resource = models.JSONField(default=list, blank=True, verbose_name=_("resource"))

    class Meta(AbstractDeviceGrant.Meta):
        # The /device page looks grants up by the code a person types.
        indexes = [models.Index(fields=["user_code"], name="oauthapp_devicegrant_user_code")]
        verbose_name = _("device sign-in")
        verbose_name_plural = _("device sign-ins")

    def __str__(self) -> str:
        return f"device sign-in of {self.client_id[:60]} ({self.status})"
