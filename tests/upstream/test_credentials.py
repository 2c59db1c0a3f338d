import pytest

from kirogate.errors import CredentialUnusable, InvalidRequest
from kirogate.upstream.credentials import (
    AuthMethod,
    Credential,
    check_credential_field,
    check_credential_fields,
    unusable_credential,
    unusable_field,
)

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
