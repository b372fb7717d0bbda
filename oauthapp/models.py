"""Our OAuth client model: DOT's Application plus the policy an MCP server needs."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import AbstractApplication, ApplicationManager

from .redirect_uris import private_use_schemes, redirect_uri_problem


class Application(AbstractApplication):
    """An OAuth client (swapped in via ``OAUTH2_PROVIDER_APPLICATION_MODEL``).

    - Redirect URIs follow :mod:`oauthapp.redirect_uris` on every save path
      (registration endpoint, admin, shell), because ``full_clean`` runs our ``clean``.
    - Public clients carry no secret: hashing an unused secret with PBKDF2 costs
      ~0.2 s of CPU per registration and protects nothing.
    """

    client_metadata = models.JSONField(
        default=dict,
        blank=True,
        verbose_name=_("client metadata"),
        help_text=_("RFC 7591 metadata the client registered (client_uri, logo_uri, scope, ...)."),
    )

    objects = ApplicationManager()

    class Meta(AbstractApplication.Meta):
        verbose_name = _("application")
        verbose_name_plural = _("applications")

    def natural_key(self) -> tuple[str]:
        return (self.client_id,)

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
