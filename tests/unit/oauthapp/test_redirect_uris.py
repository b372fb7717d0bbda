"""Redirect-URI policy (RFC 6749 §3.1.2, RFC 8252 §7, RFC 9700 §2.1), as a table.

The same rules apply on every path that stores a client: the registration endpoint,
the admin and the shell (``Application.full_clean`` runs ``clean``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st
from oauth2_provider.models import get_application_model

from oauthapp.redirect_uris import (
    LOOPBACK_HOSTS,
    MAX_REDIRECT_URI_LENGTH,
    matches_but_for_case,
    private_use_schemes,
    redirect_uri_matches,
    redirect_uri_problem,
)
from tests.support.oauth import CLAUDE_REGISTRATION, CURSOR_REGISTRATION, INSPECTOR_REGISTRATION, VSCODE_REGISTRATION

REAL_CLIENT_URIS = [
    *VSCODE_REGISTRATION["redirect_uris"],
    *CLAUDE_REGISTRATION["redirect_uris"],
    *CURSOR_REGISTRATION["redirect_uris"],
    *INSPECTOR_REGISTRATION["redirect_uris"],
]

ACCEPTED = {
    # https: any host, any port, any path.
    "https-any-host": "https://claude.ai/api/mcp/auth_callback",
    "https-with-port-and-query": "https://a.example:8443/cb?tenant=1",
    "https-localhost": "https://localhost/cb",
    "https-uppercase-path": "https://a.example/CallBack?Tenant=A",
    # http: loopback only (RFC 8252 §7.3), any port.
    "http-127.0.0.1": "http://127.0.0.1/",
    "http-127.0.0.1-port": "http://127.0.0.1:33418/",
    "http-ipv6-loopback": "http://[::1]/cb",
    "http-ipv6-loopback-port": "http://[::1]:8080/cb",
    "http-localhost": "http://localhost/callback",
    "http-localhost-port": "http://localhost:6274/oauth/callback/debug",
    "http-localhost-no-path": "http://localhost",
    # Private-use schemes (RFC 8252 §7.1).
    "cursor-scheme": "cursor://anysphere.cursor-mcp/oauth/callback",
    "reverse-domain-scheme": "com.example.app:/cb",
    "vscode-scheme": "vscode://vscode.github-authentication/did-authenticate",
    # Exactly at the length cap.
    "max-length": "https://a.example/" + "a" * (MAX_REDIRECT_URI_LENGTH - len("https://a.example/")),
}

REFUSED = {
    # http off loopback: the code would cross the network in clear.
    "http-public-host": "http://evil.example/cb",
    "http-public-host-uppercase": "HTTP://EVIL.EXAMPLE/cb",
    # Upper case in scheme or host: a request must repeat the registration exactly.
    "https-uppercase-scheme": "HTTPS://a.example/cb",
    "https-uppercase-host": "https://A.example/cb",
    "http-loopback-uppercase-scheme": "HTTP://127.0.0.1/",
    "http-localhost-uppercase": "http://LOCALHOST:8080/cb",
    "private-scheme-uppercase": "Cursor://anysphere.cursor-mcp/oauth/callback",
    "private-authority-uppercase": "cursor://Anysphere.cursor-mcp/oauth/callback",
    "http-localhost-subdomain-trick": "http://localhost.evil.example/cb",
    "https-wildcard-host": "https://*.example/cb",
    "http-loopback-prefix-trick": "http://127.0.0.1.nip.io/cb",
    "http-other-127-address": "http://127.0.0.2/cb",
    "http-port-zero": "http://127.0.0.1:0/cb",
    "http-bad-port": "http://127.0.0.1:99999/cb",
    "http-unclosed-ipv6": "http://[::1/cb",
    # Schemes a browser would execute or read locally.
    "javascript": "javascript:alert(1)",
    "javascript-mixed-case": "JavaScript:alert(1)",
    "data": "data:text/html,hi",
    "file": "file:///etc/passwd",
    "vbscript": "vbscript:x",
    "blob": "blob:https://a.example/1234",
    # Fragments (RFC 6749 §3.1.2).
    "fragment": "https://a.example/cb#x",
    "empty-fragment": "https://a.example/cb#",
    "fragment-on-loopback": "http://127.0.0.1/#/cb",
    # Userinfo: phishing-friendly, and never needed.
    "userinfo-user-and-password": "http://u:p@127.0.0.1/",
    "userinfo-user": "https://evil@a.example/",
    "userinfo-looks-like-loopback": "http://127.0.0.1@evil.example/",
    # Not absolute.
    "relative-path": "/cb",
    "relative-word": "cb",
    "relative-dot-dot": "../cb",
    "scheme-relative": "//a.example/cb",
    "private-scheme-with-nothing-after": "myapp:",
    "private-scheme-with-only-slash": "myapp:/",
    # Empty and oversized.
    "empty": "",
    "too-long": "https://a.example/" + "a" * (MAX_REDIRECT_URI_LENGTH - len("https://a.example/") + 1),
    # Whitespace and control characters.
    "leading-space": " https://a.example/cb",
    "trailing-space": "https://a.example/cb ",
    "inner-space": "https://a.example/c b",
    "tab": "https://a.example/\tcb",
    "newline": "https://a.example/cb\n",
    "crlf-injection": "https://a.example/cb\r\nSet-Cookie:x=1",
    "nul": "https://a.example/cb\x00",
    "del": "https://a.example/cb\x7f",
    "non-breaking-space": "https://a.example/\u00a0cb",
    "angle-brackets": "https://a.example/<script>",
    "backslash": "https://a.example\\@evil.example/",
    # No host.
    "https-no-host": "https:///nohost",
    "http-no-host": "http:/cb",
}


@pytest.mark.parametrize("uri", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_redirect_uri_is_accepted(uri: str) -> None:
    assert redirect_uri_problem(uri) is None


@pytest.mark.parametrize("uri", REFUSED.values(), ids=REFUSED.keys())
def test_redirect_uri_is_refused_with_a_reason(uri: str) -> None:
    problem = redirect_uri_problem(uri)

    assert isinstance(problem, str)
    assert problem.strip()


@pytest.mark.parametrize("uri", REAL_CLIENT_URIS)
def test_every_redirect_uri_a_real_mcp_client_sends_is_accepted(uri: str) -> None:
    assert redirect_uri_problem(uri) is None


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("http://evil.example/cb", "loopback"),
        ("javascript:alert(1)", "javascript"),
        ("https://a.example/cb#x", "fragment"),
        ("http://u:p@127.0.0.1/", "user information"),
        ("", "non-empty"),
        ("https:///nohost", "host"),
        ("https://APP.example/cb", "lower case"),
    ],
    ids=["http-public", "javascript", "fragment", "userinfo", "empty", "no-host", "upper-case-host"],
)
def test_refusal_reason_names_the_problem(uri: str, reason: str) -> None:
    assert reason in redirect_uri_problem(uri)


@pytest.mark.parametrize("value", [None, 42, ["https://a.example/cb"], b"https://a.example/cb"])
def test_non_string_redirect_uri_is_refused(value: object) -> None:
    assert redirect_uri_problem(value) == "must be a non-empty string"


@pytest.mark.parametrize(
    ("uris", "schemes"),
    [
        (CURSOR_REGISTRATION["redirect_uris"], {"cursor"}),
        (["com.example.app:/cb"], {"com.example.app"}),
        (VSCODE_REGISTRATION["redirect_uris"], set()),
        (["https://a.example/cb", "http://127.0.0.1/"], set()),
        (["javascript:alert(1)", "data:text/html,hi", "myapp:"], set()),
        ([], set()),
    ],
    ids=["cursor", "reverse-domain", "vscode-http-only", "http-https-only", "refused-uris", "none"],
)
def test_private_use_schemes_lists_only_accepted_non_http_schemes(uris: list[str], schemes: set[str]) -> None:
    assert private_use_schemes(uris) == schemes


MATCHES = {
    "identical-https": ("https://vscode.dev/redirect", "https://vscode.dev/redirect"),
    "identical-private-scheme": ("cursor://anysphere.cursor-mcp/oauth/callback",) * 2,
    "loopback-other-port": ("http://127.0.0.1:59656/", "http://127.0.0.1:33418/"),
    "loopback-port-added": ("http://127.0.0.1:59656/", "http://127.0.0.1/"),
    "loopback-port-dropped": ("http://127.0.0.1/", "http://127.0.0.1:33418/"),
    "ipv6-loopback-other-port": ("http://[::1]:9000/cb", "http://[::1]:8080/cb"),
    "localhost-other-port": ("http://localhost:3118/callback", "http://localhost/callback"),
    "loopback-with-query": ("http://127.0.0.1:5000/cb?x=1", "http://127.0.0.1/cb?x=1"),
}

MISMATCHES = {
    "https-uppercase-scheme": ("HTTPS://vscode.dev/redirect", "https://vscode.dev/redirect"),
    "https-uppercase-host": ("https://VSCODE.dev/redirect", "https://vscode.dev/redirect"),
    "loopback-uppercase-scheme": ("HTTP://127.0.0.1:33418/", "http://127.0.0.1:33418/"),
    "localhost-uppercase": ("http://LOCALHOST:3118/callback", "http://localhost/callback"),
    "path-case": ("https://vscode.dev/Redirect", "https://vscode.dev/redirect"),
    "https-other-port": ("https://vscode.dev:444/redirect", "https://vscode.dev/redirect"),
    "https-default-port-spelled": ("https://vscode.dev:443/redirect", "https://vscode.dev/redirect"),
    "loopback-empty-port": ("http://127.0.0.1:/", "http://127.0.0.1/"),
    "loopback-port-out-of-range": ("http://127.0.0.1:70000/", "http://127.0.0.1/"),
    "loopback-port-zero": ("http://127.0.0.1:0/", "http://127.0.0.1/"),
    "loopback-other-path": ("http://127.0.0.1:5/cb", "http://127.0.0.1/"),
    "loopback-added-query": ("http://127.0.0.1:5/?x=1", "http://127.0.0.1/"),
    "loopback-query-delimiter": ("http://127.0.0.1:5/?", "http://127.0.0.1/"),
    "loopback-fragment": ("http://127.0.0.1:5/#x", "http://127.0.0.1/"),
    "loopback-userinfo": ("http://127.0.0.1:5@evil.example/", "http://127.0.0.1/"),
    "loopback-ip-vs-localhost": ("http://localhost:33418/", "http://127.0.0.1:33418/"),
    "loopback-https": ("https://127.0.0.1:33418/", "http://127.0.0.1:33418/"),
    "trailing-slash": ("https://vscode.dev/redirect/", "https://vscode.dev/redirect"),
    "percent-encoded": ("https://vscode.dev/redir%65ct", "https://vscode.dev/redirect"),
    "private-scheme-uppercase": (
        "CURSOR://anysphere.cursor-mcp/oauth/callback",
        "cursor://anysphere.cursor-mcp/oauth/callback",
    ),
}


@pytest.mark.parametrize(("uri", "registered"), MATCHES.values(), ids=MATCHES.keys())
def test_redirect_uri_matches_exactly_or_on_another_loopback_port(uri: str, registered: str) -> None:
    assert redirect_uri_matches(uri, registered)


@pytest.mark.parametrize(("uri", "registered"), MISMATCHES.values(), ids=MISMATCHES.keys())
def test_redirect_uri_differing_in_anything_else_does_not_match(uri: str, registered: str) -> None:
    assert not redirect_uri_matches(uri, registered)


def test_a_case_only_difference_is_recognised_for_the_error_page() -> None:
    assert matches_but_for_case("HTTP://127.0.0.1:4000/", ["http://127.0.0.1:33418/"])
    assert not matches_but_for_case("https://evil.example/", ["http://127.0.0.1:33418/"])


@given(
    st.text(max_size=40),
    st.sampled_from([*VSCODE_REGISTRATION["redirect_uris"], *CURSOR_REGISTRATION["redirect_uris"]]),
)
def test_a_match_is_the_registration_with_at_most_a_loopback_port_changed(uri: str, registered: str) -> None:
    if redirect_uri_matches(uri, registered):
        requested, allowed = urlsplit(uri), urlsplit(registered)
        assert uri == registered or (
            uri.startswith("http://")
            and requested.hostname == allowed.hostname in LOOPBACK_HOSTS
            and (requested.path, requested.query) == (allowed.path, allowed.query)
        )


# Property-based: random text, and text shaped like a URI so the interesting branches run.
_uri_like = st.builds(
    "{}{}{}{}{}{}{}".format,
    st.sampled_from(["http", "https", "HTTP", "cursor", "javascript", "data", "file", "com.example.app", "", "1x"]),
    st.sampled_from(["://", ":", ":/", ":///", "//", ""]),
    st.sampled_from(["", "u@", "u:p@", "@", "127.0.0.1@"]),
    st.sampled_from(["127.0.0.1", "[::1]", "localhost", "evil.example", "localhost.evil", "[::1", "", "%40"])
    | st.text(max_size=12),
    st.sampled_from(["", ":0", ":8080", ":99999", ":x", ":"]),
    st.sampled_from(["", "/", "/cb", "/cb?x=1", "/%23", "\\cb"]) | st.text(max_size=12),
    st.sampled_from(["", "#", "#frag"]),
)


@given(st.text() | _uri_like)
def test_redirect_uri_problem_never_raises_and_accepts_only_safe_uris(uri: str) -> None:
    problem = redirect_uri_problem(uri)

    assert problem is None or isinstance(problem, str)
    if problem is None:
        parts = urlsplit(uri)
        assert "#" not in uri
        assert "@" not in parts.netloc
        assert parts.username is None
        assert parts.password is None
        if parts.scheme.lower() == "http":
            assert parts.hostname in LOOPBACK_HOSTS
        assert private_use_schemes([uri]) <= {parts.scheme.lower()}


Application = get_application_model()


def _application(redirect_uris: list[str], client_type: str = Application.CLIENT_PUBLIC) -> object:
    return Application(
        name="shell-made client",
        redirect_uris=" ".join(redirect_uris),
        client_type=client_type,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "uri",
    ["http://evil.example/cb", "javascript:alert(1)", "https://a.example/cb#x", "https://evil@a.example/"],
    ids=["http-public-host", "javascript", "fragment", "userinfo"],
)
def test_application_full_clean_rejects_a_bad_redirect_uri_saved_from_admin_or_shell(uri: str) -> None:
    application = _application(["https://good.example/cb", uri])

    with pytest.raises(ValidationError) as excinfo:
        application.full_clean()

    assert "redirect_uris" in excinfo.value.message_dict
    assert any(uri in message for message in excinfo.value.message_dict["redirect_uris"])
    assert not any("good.example" in message for message in excinfo.value.message_dict["redirect_uris"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [VSCODE_REGISTRATION, CLAUDE_REGISTRATION, CURSOR_REGISTRATION, INSPECTOR_REGISTRATION],
    ids=["vscode", "claude", "cursor", "inspector"],
)
def test_application_full_clean_accepts_real_client_redirect_uris(body: dict[str, object]) -> None:
    application = _application(body["redirect_uris"])

    application.full_clean()


def test_cursor_application_allows_the_cursor_scheme() -> None:
    application = _application(CURSOR_REGISTRATION["redirect_uris"])

    assert application.get_allowed_schemes() == ["http", "https", "cursor"]


def test_application_without_private_use_uris_allows_only_http_and_https() -> None:
    application = _application(VSCODE_REGISTRATION["redirect_uris"])

    assert application.get_allowed_schemes() == ["http", "https"]


def test_application_never_allows_a_refused_scheme_even_if_stored() -> None:
    # A row written around full_clean (e.g. a raw UPDATE) still cannot redirect to javascript:.
    application = _application(["javascript:alert(1)", "cursor://anysphere.cursor-mcp/cb"])

    assert "javascript" not in application.get_allowed_schemes()
    assert "cursor" in application.get_allowed_schemes()
