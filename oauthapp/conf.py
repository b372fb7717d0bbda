"""oauthapp's settings, with their defaults, read from Django's settings when asked (so overrides apply).

| setting | default | what it does |
|---|---|---|
| ``MCPDEMO_PUBLIC_URL`` | ``""`` | the public origin, exactly the OAuth issuer; empty: each request's own origin |
| ``MCP_SCOPE`` | ``"mcp"`` | the scope a registration gets when it asks for none |
| ``MCPDEMO_RATE_LIMITS`` | ``DEFAULT_RATE_LIMITS`` | sliding-window limits (``N/m``, ``N/10m``…; empty: off) |
| ``MCPDEMO_REFRESH_RACE_SECONDS`` | ``30`` | a refresh repeated this soon gets the first answer again |
| ``MCPDEMO_DEVICE_CODE_SECONDS`` | ``600`` | how long a device flow's user code and device code live |
| ``MCPDEMO_DEVICE_POLL_SECONDS`` | ``5`` | the polling interval a device client is given (``slow_down`` adds 5) |

DOT's own settings (``OAUTH2_PROVIDER``: CIMD, DCR, lifetimes) stay DOT's, read through
``oauth2_provider.settings.oauth2_settings``.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings

DEFAULT_RATE_LIMITS = {
    "register": "30/h",
    "token": "120/m",
    "login": "10/m",
    "login_account": "20/h",
    "device": "10/m",
    "device_account": "20/h",
}


class Settings:
    @property
    def PUBLIC_URL(self) -> str:
        return str(getattr(settings, "MCPDEMO_PUBLIC_URL", ""))

    @property
    def SCOPE(self) -> str:
        return str(getattr(settings, "MCP_SCOPE", "mcp"))

    @property
    def RATE_LIMITS(self) -> Mapping[str, str]:
        limits: Mapping[str, str] = getattr(settings, "MCPDEMO_RATE_LIMITS", DEFAULT_RATE_LIMITS)
        return limits

    @property
    def REFRESH_RACE_SECONDS(self) -> int:
        return int(getattr(settings, "MCPDEMO_REFRESH_RACE_SECONDS", 30))

    @property
    def DEVICE_CODE_SECONDS(self) -> int:
        return int(getattr(settings, "MCPDEMO_DEVICE_CODE_SECONDS", 600))

    @property
    def DEVICE_POLL_SECONDS(self) -> int:
        return int(getattr(settings, "MCPDEMO_DEVICE_POLL_SECONDS", 5))


conf = Settings()
