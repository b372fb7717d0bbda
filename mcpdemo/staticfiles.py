"""The static files storage: WhiteNoise's hashed, compressed files, or the plain ones before ``collectstatic``."""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Hashed names from the manifest once ``collectstatic`` has run; the plain names before.

    Without a manifest Django's manifest storage raises on every ``{% static %}``, so with debug
    off and nothing collected every page, the error pages too, was a bare 500. The plain names
    are served from the source directories (``WHITENOISE_USE_FINDERS``), and the deploy check
    mcpdemo.W001 says to collect them.
    """

    def stored_name(self, name: str) -> str:
        if not self.hashed_files:
            return name
        return str(super().stored_name(name))
