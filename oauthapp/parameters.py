"""OAuth 2.1 §3.1: request parameters "MUST NOT be included more than once".

A repeated parameter is ambiguous (which ``code_challenge`` did the client mean?), so the
request is refused with ``invalid_request`` instead of letting one copy win. ``resource``
is the exception: RFC 8707 §2 repeats it once per resource.
"""

from __future__ import annotations

import re
from collections import Counter

from django.http import QueryDict

REPEATABLE = frozenset({"resource"})
_PRINTABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def repeated_parameter(*sources: QueryDict) -> str | None:
    """The first parameter (by name) given more than once across ``sources``, else ``None``."""
    counts: Counter[str] = Counter()
    for source in sources:
        for name, values in source.lists():
            counts[name] += len(values)
    return min((name for name, count in counts.items() if count > 1 and name not in REPEATABLE), default=None)


def repeated_description(name: str) -> str:
    """The error description for a repeated ``name`` (named only if it is a plain word: it is client input)."""
    subject = f"the parameter {name}" if _PRINTABLE_NAME.match(name) else "a parameter"
    return f"{subject} is repeated; OAuth parameters may appear only once"
