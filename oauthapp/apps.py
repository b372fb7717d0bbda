from __future__ import annotations

from django.apps import AppConfig


class OAuthAppConfig(AppConfig):
    name = "oauthapp"
    verbose_name = "OAuth clients"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, cimd, signals  # noqa: F401 (registers the system checks, connects the receivers)
