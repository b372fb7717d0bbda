"""Which redirect URIs a client may register (RFC 6749 §3.1.2, RFC 8252, RFC 9700 §2.1).

- ``https`` anywhere;
- ``http`` only on loopback (``127.0.0.1``, ``[::1]``, ``localhost``), where the port
  is free at authorization time (RFC 8252 §7.3);
- private-use schemes such as ``cursor://`` or ``com.example.app:/cb`` (RFC 8252 §7.1);
- never a fragment, userinfo, or a scheme a browser would execute or read locally;
- scheme and host in lower case, because a request must repeat a registered URI
  character for character (OAuth 2.1 §4.1.1, RFC 9700 §2.1): only the port of a
  loopback redirect may differ (:func:`redirect_uri_matches`).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_REDIRECT_URI_LENGTH = 2000

# Schemes that run code, read local data, or are otherwise no place to send a code.
FORBIDDEN_SCHEMES = frozenset(
    {
        "about",
        "blob",
        "chrome",
        "data",
        "file",
        "filesystem",
        "ftp",
        "javascript",
        "jar",
        "mailto",
        "sms",
        "tel",
        "view-source",
        "vbscript",
        "ws",
        "wss",
    }
)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
_FORBIDDEN_CHARS = re.compile(r"[\s\x00-\x1f\x7f<>\"\\^`{|}]")
# A loopback redirect as registered and requested: lower-case scheme and host, written
# exactly so; the port (group 2) is whatever the client's listener got.
_LOOPBACK_AUTHORITY = re.compile(r"^http://(127\.0\.0\.1|\[::1\]|localhost)(?::([0-9]{1,5}))?(?=[/?]|$)")


def redirect_uri_problem(uri: str) -> str | None:
    """Return why ``uri`` may not be registered, or ``None`` when it may."""
    if not isinstance(uri, str) or not uri:
        return "must be a non-empty string"
    if len(uri) > MAX_REDIRECT_URI_LENGTH:
        return f"must be at most {MAX_REDIRECT_URI_LENGTH} characters"
    if _FORBIDDEN_CHARS.search(uri):
        return "contains characters that are not allowed in a URI"
    if "#" in uri:
        return "must not contain a fragment"
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return "is not a valid URI"
    scheme = parts.scheme.lower()
    if not scheme or not _SCHEME.match(scheme):
        return "must be an absolute URI with a scheme"
    if scheme in FORBIDDEN_SCHEMES:
        return f"uses the forbidden scheme {scheme!r}"
    if "@" in parts.netloc:
        return "must not contain user information"
    if uri.partition(":")[0] != scheme or parts.netloc != parts.netloc.lower():
        return "must write its scheme and host in lower case (redirect URIs are compared exactly)"
    if scheme in ("http", "https"):
        if not parts.hostname:
            return "must name a host"
        if "*" in parts.hostname:
            return "must not use a wildcard host (redirect URIs are matched exactly)"
        if port == 0:
            return "must not use port 0"
        if scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            return "may use http only on a loopback host (127.0.0.1, [::1] or localhost); use https"
        return None
    # Private-use scheme (RFC 8252 §7.1): needs something after the scheme.
    if not (parts.netloc or parts.path.strip("/")):
        return "must have a path or authority after the scheme"
    return None


def _without_loopback_port(uri: str) -> str | None:
    """``uri`` without its port if it is a loopback redirect (RFC 8252 §7.3), else ``None``."""
    match = _LOOPBACK_AUTHORITY.match(uri)
    if match is None or (match.group(2) is not None and not 0 < int(match.group(2)) < 65536):
        return None
    return f"http://{match.group(1)}{uri[match.end() :]}"


def redirect_uri_matches(uri: str, registered: str) -> bool:
    """Whether a requested redirect URI is the registered one: the same string, character
    for character (OAuth 2.1 §4.1.1), except the port of a loopback redirect (RFC 8252 §7.3)."""
    if uri == registered:
        return True
    loopback = _without_loopback_port(uri)
    return loopback is not None and loopback == _without_loopback_port(registered)


def matches_but_for_case(uri: str, registered_uris: list[str]) -> bool:
    """Whether ``uri`` would match a registered URI if letter case did not count (for a clear error)."""
    return any(redirect_uri_matches(uri.lower(), registered.lower()) for registered in registered_uris)


def private_use_schemes(uris: list[str]) -> set[str]:
    """The non-http(s) schemes among ``uris`` that pass the policy."""
    return {
        urlsplit(uri).scheme.lower()
        for uri in uris
        if redirect_uri_problem(uri) is None and urlsplit(uri).scheme.lower() not in ("http", "https")
    }


def display_host(uri: str) -> str:
    """Where a redirect URI sends people, for pages and lists: its host and port, or ``scheme:``."""
    parts = urlsplit(uri)
    return parts.netloc or f"{parts.scheme}:"


def describe_redirect(uri: str) -> str:
    """Where a redirect URI sends people, in plain words: "an app on this computer (port 33418)", a domain."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if scheme in ("http", "https") and parts.hostname in LOOPBACK_HOSTS:
        return f"an app on this computer (port {port})" if port else "an app on this computer"
    if scheme in ("http", "https"):
        return f"the website {parts.hostname}"
    return f"the app on this device that opens {scheme}: links"


def with_issuer(uri: str, issuer: str) -> str:
    """``uri`` with exactly one RFC 9207 ``iss`` query parameter, ``issuer`` (code-flow responses use the query)."""
    parts = urlsplit(uri)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != "iss"]
    query.append(("iss", issuer))
    return urlunsplit(parts._replace(query=urlencode(query)))
