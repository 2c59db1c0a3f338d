from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from kirogate.upstream.credentials import (
    AuthMethod,
    Credential,
    CredentialOrigin,
    mask_secret,
    secret_hash,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_long_secret_is_masked_to_its_ends() -> None:
    assert mask_secret("abcdefghijklmnopqrstuvwxyz") == "abcd…wxyz"


def test_a_short_or_non_ascii_secret_is_masked_whole() -> None:
    assert mask_secret("short") == "***"
    assert mask_secret("ä" * 20) == "***"
    assert mask_secret(None) is None


def test_the_label_prefers_email_then_id_then_origin_never_a_secret() -> None:
    origin = CredentialOrigin("kiro-rs", Path("/creds.json"), index=2)
    cred = Credential(AuthMethod.IDC, refresh_token="secret-refresh", origin=origin)
    assert cred.label == "/creds.json[2]"
    cred.id = 7
    assert cred.label == "#7"
    cred.email = "a@example.com"
    assert cred.label == "a@example.com"
    assert Credential(AuthMethod.SOCIAL).label == "social"


def test_repr_leaves_the_tokens_out() -> None:
    cred = Credential(AuthMethod.SOCIAL, refresh_token="r-secret", access_token="a-secret")
    assert "secret" not in repr(cred)


def test_an_origin_without_index_is_described_by_path_or_kind() -> None:
    assert CredentialOrigin("env").describe() == "env"
    assert CredentialOrigin("kiro-ide", Path("/t.json")).describe() == "/t.json"


def test_a_missing_or_soon_expiring_token_needs_a_refresh() -> None:
    cred = Credential(AuthMethod.SOCIAL, access_token="a", expires_at=NOW + timedelta(seconds=60))
    assert not cred.expires_within(30, now=NOW)
    assert cred.expires_within(120, now=NOW)
    assert Credential(AuthMethod.SOCIAL, expires_at=NOW + timedelta(days=1)).expires_within(0)
    assert Credential(AuthMethod.SOCIAL, access_token="a").expires_within(0)


def test_an_api_key_never_expires_and_is_its_own_bearer() -> None:
    cred = Credential(AuthMethod.API_KEY, kiro_api_key="ksk_1", access_token="ignored")
    assert not cred.expires_within(10**9)
    assert cred.bearer == "ksk_1"
    assert cred.fingerprint() == secret_hash("ksk_1")


def test_the_fingerprint_of_a_login_is_its_refresh_tokens_hash() -> None:
    cred = Credential(AuthMethod.IDC, refresh_token="r", access_token="a")
    assert cred.bearer == "a"
    assert cred.fingerprint() == secret_hash("r")
    assert len(cred.fingerprint()) == 64


def test_the_auth_region_falls_back_to_the_region() -> None:
    assert Credential(AuthMethod.IDC, region="eu-west-1").effective_auth_region == "eu-west-1"
    cred = Credential(AuthMethod.IDC, region="eu-west-1", auth_region="us-east-1")
    assert cred.effective_auth_region == "us-east-1"
