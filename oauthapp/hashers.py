"""A password hasher for client secrets, which need no key stretching.

DOT generates 128-character random client secrets (~760 bits). Stretching them
with PBKDF2's million iterations protects nothing and makes every confidential
registration cost ~0.4 s of CPU, an easy lever for a flood. One salted SHA-256
round is enough for a secret nobody can guess.
"""

from __future__ import annotations

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class ClientSecretHasher(PBKDF2PasswordHasher):
    algorithm = "pbkdf2_sha256_client_secret"
    iterations = 1

    def must_update(self, encoded: str) -> bool:
        return False
