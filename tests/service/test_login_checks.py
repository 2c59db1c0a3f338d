"""What an operator sends to start or finish a login: each refusal names its field."""

from __future__ import annotations

import pytest

from kirogate.errors import InvalidRequest
from kirogate.service.login_checks import (
    BUILDER_ID_START_URL,
    check_provider,
    check_redirect_uri,
    check_region,
    check_start_url,
    redirect_params,
    state_hash,
    valid_login_id,
)


def test_the_input_checks_name_their_field() -> None:
    assert check_region(None, "us-east-1") == "us-east-1"
    assert check_region("eu-central-1", "us-east-1") == "eu-central-1"
    assert check_start_url(None) == BUILDER_ID_START_URL
    assert check_start_url(" https://d-1.awsapps.com/start ") == "https://d-1.awsapps.com/start"
    assert check_provider("GitHub") == "github"
    assert check_redirect_uri(None).startswith("kiro://")
    cases = [
        (lambda: check_region("x", "us-east-1"), "region"),
        (lambda: check_region(5, "us-east-1"), "region"),
        (lambda: check_start_url("https:///nohost"), "start_url"),
        (lambda: check_start_url("https://a b.example/start"), "start_url"),
        (lambda: check_provider(None), "provider"),
        (lambda: check_redirect_uri("https://x.example/cb#frag"), "redirect_uri"),
        (lambda: check_redirect_uri("/relative"), "redirect_uri"),
        (lambda: redirect_params("https://x.example/cb?code=1"), "url"),
        (lambda: redirect_params("   "), "url"),
    ]
    for call, field in cases:
        with pytest.raises(InvalidRequest) as caught:
            call()
        assert caught.value.param == field and f"'{field}'" in caught.value.message


def test_the_redirect_address_or_its_bare_query_is_read() -> None:
    final = "kiro://kiro.kiroAgent/authenticate-success?code=abc&state=s1"
    assert redirect_params(final) == {"code": "abc", "state": "s1"}
    assert redirect_params("code=abc&state=s1") == {"code": "abc", "state": "s1"}
    assert state_hash("s1") != state_hash("s2") and len(state_hash("s1")) == 64
    assert valid_login_id("login_" + "0" * 24) and not valid_login_id("login_../x")
