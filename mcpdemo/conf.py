"""The project's own settings (metrics at ``/metrics``), read from Django's settings when asked (so overrides apply).

| setting | default | what it does |
|---|---|---|
| ``MCPDEMO_METRICS_ENABLED`` | ``False`` | serve Prometheus metrics at ``/metrics`` and record them |
| ``MCPDEMO_METRICS_ALLOWED_NETWORKS`` | ``()`` | client networks (CIDR) that may read ``/metrics`` |
| ``MCPDEMO_METRICS_TOKEN`` | ``""`` | a bearer secret that lets any address read ``/metrics`` |

``PROMETHEUS_MULTIPROC_DIR`` is prometheus-client's own variable, read from the environment
(prometheus-client reads it when imported): where the workers of one node keep their values.
"""

from __future__ import annotations

import os

from django.conf import settings


class Settings:
    @property
    def METRICS_ENABLED(self) -> bool:
        return bool(getattr(settings, "MCPDEMO_METRICS_ENABLED", False))

    @property
    def METRICS_ALLOWED_NETWORKS(self) -> tuple[str, ...]:
        return tuple(getattr(settings, "MCPDEMO_METRICS_ALLOWED_NETWORKS", ()))

    @property
    def METRICS_TOKEN(self) -> str:
        return str(getattr(settings, "MCPDEMO_METRICS_TOKEN", ""))

    @property
    def MULTIPROC_DIR(self) -> str:
        return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()


conf = Settings()
