"""User codes of the device flow: short, unambiguous, matched however they are typed."""

from __future__ import annotations

import re

import pytest
from django.test import override_settings

from oauthapp.device_codes import ALPHABET, DeviceServer, generate_user_code, normalise_user_code
from oauthapp.validator import MCPOAuth2Validator


def test_user_codes_are_two_groups_of_four_unambiguous_letters() -> None:
    codes = {generate_user_code() for _ in range(200)}

    assert len(codes) == 200
    assert all(re.fullmatch(r"[A-Z]{4}-[A-Z]{4}", code) for code in codes)
    used = set("".join(codes).replace("-", ""))
    assert used <= set(ALPHABET)
    assert not used & set("0O1IAEUY")  # no look-alikes, no vowels (no words)


@pytest.mark.parametrize("typed", ["BCDF-GHJK", "bcdf-ghjk", "BCDFGHJK", " bcdf ghjk ", "BCDF–GHJK", "bc-df-gh-jk"])
def test_typing_is_case_dash_and_space_insensitive(typed: str) -> None:
    assert normalise_user_code(typed) == "BCDF-GHJK"


@pytest.mark.parametrize(
    "typed", ["", "BCDF-GHJ", "BCDF-GHJKL", "BCDF-GHJA", "B0DF-GHJK", "1234-5678", "x" * 10_000, None]
)
def test_what_cannot_be_a_code_is_nothing(typed: str | None) -> None:
    assert normalise_user_code(typed or "") is None


@override_settings(MCPDEMO_DEVICE_CODE_SECONDS=300, MCPDEMO_DEVICE_POLL_SECONDS=2)
def test_the_endpoint_reads_its_lifetime_and_interval_from_the_settings() -> None:
    server = DeviceServer(MCPOAuth2Validator(), verification_uri="https://example.test/device")

    assert (server.expires_in, server.interval) == (300, 2)
