"""System checks for the OAuth side (``manage.py check``; ``--deploy`` adds the deployment ones).

| id | finding |
|---|---|
| oauthapp.E001 | a ``MCPDEMO_RATE_LIMITS`` entry is not a django-ratelimit rate |
| oauthapp.W001 | *deploy*: CIMD on without ``MCPDEMO_CIMD_ALLOWED_HOSTS``: fetches from any host a client names |
"""

from __future__ import annotations

import re
from typing import Any

from django.core.checks import CheckMessage, Error, Tags, Warning, register
from oauth2_provider.settings import oauth2_settings

from .conf import conf

# django-ratelimit's syntax: a count, a slash, an optional multiplier and a unit.
_RATE = re.compile(r"^\d+/\d*[smhdSMHD]?$")


@register()
def check_rate_limits(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return [
        Error(
            f"MCPDEMO_RATE_LIMITS[{group!r}] is {rate!r}, not a rate such as 30/h or 5/10m.",
            hint="Set the MCPDEMO_RATE_LIMIT_* variable to N/s, N/m, N/h or N/d (also N/10m), or empty for none.",
            id="oauthapp.E001",
        )
        for group, rate in conf.RATE_LIMITS.items()
        if rate and not _RATE.match(rate)
    ]


@register(Tags.security, deploy=True)
def check_cimd_outbound_hosts(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not oauth2_settings.CIMD_ENABLED or oauth2_settings.CIMD_ALLOWED_HOSTS:
        return []
    return [
        Warning(
            "Client ID Metadata Documents are on and MCPDEMO_CIMD_ALLOWED_HOSTS is empty: the server makes outbound "
            "https requests to any public host a client names as its client_id.",
            hint="List the clients' hosts (e.g. MCPDEMO_CIMD_ALLOWED_HOSTS=vscode.dev) so outbound access can be "
            "limited to them, or set MCPDEMO_CIMD_ENABLED=0 where the server has no outbound access.",
            id="oauthapp.W001",
        )
    ]
