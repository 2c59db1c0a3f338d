"""The same-account rule: what makes two stored credentials one Kiro account."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from kirogate.store.identity import copy_of, is_dead, newer_tokens, same_account, same_client
from tests.store.factories import EXPIRES, api_key, file_origin, idc, social


def test_the_same_refresh_token_is_the_same_account() -> None:
    assert same_account(social("a"), social("a"))


def test_the_same_email_is_the_same_account_whatever_the_case() -> None:
    assert same_account(social("a", email="Ann@Example.com"), social("b", email="ann@example.com"))


def test_different_emails_are_never_the_same_account(tmp_path: Path) -> None:
    origin = file_origin(tmp_path / "kiro-auth-token.json", kind="kiro-ide")
    a = social("a", email="a@example.com", origin=origin)
    b = social("b", email="b@example.com", origin=origin)
    assert not same_account(a, b)


def test_the_same_file_entry_is_the_same_login(tmp_path: Path) -> None:
    path = tmp_path / "kiro-auth-token.json"
    assert same_account(
        social("a", origin=file_origin(path, kind="kiro-ide")),
        social("b", origin=file_origin(path, kind="kiro-ide")),
    )
    assert not same_account(
        social("a", origin=file_origin(path, 0)), social("b", origin=file_origin(path, 1))
    )


def test_the_shared_social_profile_arn_is_no_evidence() -> None:
    arn = "arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK"
    assert not same_account(social("a", profile_arn=arn), social("b", profile_arn=arn))


def test_idc_credentials_of_one_client_and_region_share_a_client() -> None:
    a, b = idc("a"), idc("b")
    b.client_id = a.client_id
    assert same_client(a, b)
    b.auth_region = "us-east-1"
    assert not same_client(a, b)


def test_a_shared_client_alone_merges_only_a_dead_copy() -> None:
    a, b = idc("a"), idc("b")
    b.client_id = a.client_id
    assert not same_account(a, b) and not copy_of(a, b)
    b.disabled, b.disabled_reason = True, "invalid_refresh_token"
    assert copy_of(a, b)


def test_a_shared_client_with_different_emails_is_not_a_copy() -> None:
    a, b = idc("a", email="a@example.com"), idc("b", email="b@example.com")
    b.client_id = a.client_id
    b.disabled, b.disabled_reason = True, "invalid_refresh_token"
    assert not copy_of(a, b)


def test_api_keys_match_only_by_key() -> None:
    assert same_account(api_key("k"), api_key("k"))
    assert not same_account(api_key("k"), api_key("j"))


def test_only_an_invalid_refresh_token_makes_a_copy_dead() -> None:
    assert is_dead(social(disabled=True, disabled_reason="invalid_refresh_token"))
    assert not is_dead(social(disabled=True, disabled_reason="manual"))


def test_newer_tokens_compare_expiry_only_when_both_are_known() -> None:
    later = social("b", expires_at=EXPIRES + timedelta(hours=1))
    assert newer_tokens(later, social("a"))
    assert not newer_tokens(social("a"), later)
    assert newer_tokens(social("a", expires_at=None), later)
