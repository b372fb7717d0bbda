"""Client-supplied text made safe to show: no bidi or invisible characters, a bounded length.

Escaping stops markup; it does not stop a name that reorders the text around it
(U+202E turns "use your account" into "tnuocca ruoy esu") or hides characters. Names
are cleaned when a client registers and again when they are shown (a name stored
before this rule, or set in the admin, is shown cleaned too), and pages bidi-isolate
them (``<bdi>``) so even a right-to-left script cannot pull our words into the name.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

# Long enough for every real client name ("Visual Studio Code - Insiders" is 29).
DISPLAY_LENGTH = 60
SHORT_LENGTH = 32

# Unicode categories that never belong in a name: controls (Cc), format characters (Cf,
# which hold the bidi embeddings, overrides, isolates and marks, zero-width joiners and
# spaces), unassigned, private use and surrogates.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Co", "Cs"})
_SPACES = re.compile(r"\s+")


def clean_text(value: Any) -> str:
    """``value`` without control, format (bidi, zero-width) or unassigned characters, spaces collapsed."""
    text = unicodedata.normalize("NFC", str(value or ""))
    kept = "".join(
        " " if char.isspace() else char
        for char in text
        if char.isspace() or unicodedata.category(char) not in _DROPPED_CATEGORIES
    )
    return _SPACES.sub(" ", kept).strip()


def shorten(text: str, limit: int = DISPLAY_LENGTH) -> str:
    """``text`` cut to at most ``limit`` characters, at a word boundary when one is near, with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if not text[len(cut)].isspace() and space > limit * 2 // 3:  # back to the last whole word
        cut = cut[:space]
    return cut.rstrip(" -–—·,.:;") + "…"


def client_name(application: Any) -> str:
    """The client's name, cleaned (empty when it gave none or nothing printable)."""
    return clean_text(getattr(application, "name", ""))


def short_client_id(client_id: str, keep: int = 8) -> str:
    """Enough of a client ID to tell two clients apart: a generated ID's start, a URL's host."""
    if "://" in client_id:
        return urlsplit(client_id).hostname or client_id[:keep]
    return client_id if len(client_id) <= keep + 1 else client_id[:keep] + "…"


def client_label(application: Any, limit: int = SHORT_LENGTH) -> str:
    """A one-line label telling same-named clients apart: short name · short client ID."""
    name = shorten(client_name(application), limit) or "(no name)"
    return f"{name} · {short_client_id(application.client_id)}"
