from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kirogate.errors import CredentialUnusable, InvalidRequest
from kirogate.upstream.credentials import (
    AuthMethod,
    Credential,
    CredentialOrigin,
    check_credential_field,
    check_credential_fields,
    mask_secret,
    secret_hash,
    unusable_credential,
    unusable_field,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)

GOOD = Credential(
    AuthMethod.IDC,
    refresh_token="aorAAAA-refresh:" + "r" * 40,
    access_token="aoaAAAA-access:" + "a" * 40,
    client_id="client-id",
    client_secret="client-secret",
    region="us-east-1",
    proxy_url="http://user:pass@proxy.example:8080",
    proxy_password="pass with space",
    email="dev@example.com",
    subscription_title="KIRO PRO+",
)


def test_a_credential_with_ordinary_fields_passes() -> None:
    check_credential_fields(GOOD)
    assert unusable_field(GOOD) is None


@pytest.mark.parametrize(
    ("attribute", "value", "name"),
    [
        ("kiro_api_key", "ksk_abc\r\nX-Injected: 1", "kiroApiKey"),
        ("refresh_token", "aor\nAAAA", "refreshToken"),
        ("access_token", "aoa\x00", "accessToken"),
        ("access_token", "aoa token", "accessToken"),
        ("profile_arn", "arn:aws:codewhisperer:\r", "profileArn"),
        ("client_id", "id\t", "clientId"),
        ("client_secret", "sécret", "clientSecret"),
        ("machine_id", "ab\ncd", "machineId"),
        ("proxy_url", "http://proxy:8080/\r\n", "proxyUrl"),
        ("proxy_password", "pa\x7fss", "proxyPassword"),
        ("proxy_username", "usér", "proxyUsername"),
        ("region", "us-east-1.evil.example/", "region"),
        ("api_region", "US-EAST-1", "apiRegion"),
        ("auth_region", "us east", "authRegion"),
        ("token_endpoint", "https://idp.example/token\n", "tokenEndpoint"),
        ("email", "dev@example.com\x1b[31m", "email"),
        ("provider", "Google\n", "provider"),
    ],
)
def test_a_field_no_request_could_carry_is_refused_by_name(
    attribute: str, value: str, name: str
) -> None:
    credential = Credential(AuthMethod.SOCIAL, refresh_token="r" * 40)
    setattr(credential, attribute, value)
    with pytest.raises(InvalidRequest) as caught:
        check_credential_fields(credential)
    assert caught.value.param == name
    assert value not in caught.value.message
    assert unusable_field(credential) is not None and unusable_field(credential)[0] == name


def test_a_single_changed_field_is_checked_by_its_attribute_name() -> None:
    check_credential_field("proxy_url", "socks5://proxy:1080")
    check_credential_field("priority", 3)  # not a text field: nothing to check
    with pytest.raises(InvalidRequest) as caught:
        check_credential_field("proxy_url", "http://proxy\r\n:8080")
    assert caught.value.param == "proxyUrl"


def test_a_refused_request_names_the_credential_and_never_the_value() -> None:
    credential = Credential(AuthMethod.API_KEY, kiro_api_key="ksk_secret\r\nvalue", id=7)
    error = unusable_credential(credential, ValueError("ksk_secret\r\nvalue"))
    assert isinstance(error, CredentialUnusable)
    assert "#7" in error.message
    assert "ksk_secret" not in error.message


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
