"""Client-supplied names made safe to show: cleaned of bidi/invisible characters, shortened, told apart."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from oauthapp.display import clean_text, client_label, short_client_id, shorten
from oauthapp.redirect_uris import describe_redirect


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Claude\u202e edoC", "Claude edoC"),
        ("\u2066Visual\u2069 Studio\u200b Code\u200f", "Visual Studio Code"),
        ("tab\there\nnewline", "tab here newline"),
        ("  many    spaces  ", "many spaces"),
        ("bell\x07\x1b[31m", "bell[31m"),
        ("e\u0301", "é"),  # NFC: one character, as it is shown
        ("مرحبا", "مرحبا"),  # right-to-left scripts stay; pages isolate them with <bdi>
        (None, ""),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_shorten_cuts_at_a_word_near_the_limit() -> None:
    assert shorten("short") == "short"
    assert shorten("word " * 30, 20) == "word word word word…"
    assert len(shorten("x" * 300, 60)) == 60


def test_short_client_id_and_label_tell_clients_apart() -> None:
    assert short_client_id("bAVlYLc65KYSDvOMkkjTHb5I1rVddzI6NsIweVYq") == "bAVlYLc6…"
    assert short_client_id("https://vscode.dev/oauth/client-metadata.json") == "vscode.dev"
    application = SimpleNamespace(name="Visual\u202e Studio Code", client_id="abcdefghijklmnop")
    assert client_label(application) == "Visual Studio Code · abcdefgh…"
    assert client_label(SimpleNamespace(name="", client_id="abc")) == "(no name) · abc"


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("http://127.0.0.1:33418/", "an app on this computer (port 33418)"),
        ("http://[::1]/cb", "an app on this computer"),
        ("http://localhost:8080/callback", "an app on this computer (port 8080)"),
        ("https://claude.ai/api/mcp/auth_callback", "the website claude.ai"),
        ("cursor://anysphere.cursor-mcp/oauth/callback", "the app on this device that opens cursor: links"),
    ],
)
def test_describe_redirect(uri: str, words: str) -> None:
    assert describe_redirect(uri) == words
