"""OAuth 2.1 §3.1: no request parameter may be repeated (``resource`` aside, RFC 8707)."""

from __future__ import annotations

from django.http import QueryDict

from oauthapp.parameters import repeated_description, repeated_parameter


def test_a_parameter_given_twice_is_named() -> None:
    assert repeated_parameter(QueryDict("code_challenge=a&code_challenge=b&state=s")) == "code_challenge"


def test_a_parameter_in_both_query_and_body_counts_as_repeated() -> None:
    assert (
        repeated_parameter(QueryDict("code_verifier=a"), QueryDict("code_verifier=b&grant_type=x")) == "code_verifier"
    )


def test_an_empty_repeat_counts_too() -> None:
    assert repeated_parameter(QueryDict("scope=&scope=mcp")) == "scope"


def test_resource_may_be_repeated_and_single_parameters_pass() -> None:
    assert repeated_parameter(QueryDict("resource=a&resource=b&state=s&scope=mcp")) is None


def test_the_description_names_only_a_plain_parameter_name() -> None:
    assert "the parameter state is repeated" in repeated_description("state")
    assert "<" not in repeated_description("<script>")
    assert repeated_description("<script>").startswith("a parameter is repeated")
