import hashlib
import re
import uuid

import pytest

from kirogate.settings import UpstreamSettings
from kirogate.upstream import identity
from kirogate.upstream.credentials import AuthMethod, Credential
from kirogate.upstream.identity import (
    data_plane_headers,
    machine_id_for,
    mcp_headers,
    normalize_machine_id,
    oidc_headers,
    social_refresh_headers,
    system_version,
    usage_headers,
)

REFRESH = "aorAAAA" + "r" * 120
SETTINGS = UpstreamSettings(system_version="darwin#24.6.0")
MID = "a" * 64


def social(**kw: object) -> Credential:
    return Credential(AuthMethod.SOCIAL, refresh_token=REFRESH, access_token="aoa-token", **kw)  # type: ignore[arg-type]


def api_key() -> Credential:
    return Credential(AuthMethod.API_KEY, kiro_api_key="ksk_" + "k" * 30)


def test_sha256_hex_matches_kiro_rs_vector():
    assert identity.sha256_hex("test") == (
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    )


def test_normalize_keeps_64_hex():
    assert normalize_machine_id("b" * 64) == "b" * 64


def test_normalize_uuid_is_dedashed_and_doubled():
    # kiro.rs machine_id.rs test vector
    assert normalize_machine_id("2582956e-cc88-4669-b546-07adbffcb894") == (
        "2582956ecc884669b54607adbffcb8942582956ecc884669b54607adbffcb894"
    )


def test_normalize_lowercases():
    assert normalize_machine_id("AB" * 32) == "ab" * 32


@pytest.mark.parametrize("value", ["invalid", "too-short", "g" * 64, "", None, "a" * 63])
def test_normalize_rejects_other_values(value):
    assert normalize_machine_id(value) is None


def test_machine_id_prefers_credential_value():
    cred = social(machine_id="b" * 64)
    settings = UpstreamSettings(machine_id="c" * 64)
    assert machine_id_for(cred, settings) == "b" * 64


def test_machine_id_falls_back_to_settings_when_credential_value_invalid():
    cred = social(machine_id="not-a-machine-id")
    settings = UpstreamSettings(machine_id="2582956e-cc88-4669-b546-07adbffcb894")
    assert machine_id_for(cred, settings) == "2582956ecc884669b54607adbffcb894" * 2


def test_machine_id_derived_from_refresh_token():
    expected = hashlib.sha256(f"KotlinNativeAPI/{REFRESH}".encode()).hexdigest()
    assert machine_id_for(social(), UpstreamSettings()) == expected


def test_machine_id_derived_from_api_key():
    cred = api_key()
    expected = hashlib.sha256(f"KiroAPIKey/{cred.kiro_api_key}".encode()).hexdigest()
    assert machine_id_for(cred, UpstreamSettings()) == expected


def test_fallback_machine_id_is_stable_per_credential():
    cred = Credential(AuthMethod.SOCIAL, access_token="only-access")
    other = Credential(AuthMethod.SOCIAL, access_token="only-access")
    first = machine_id_for(cred, UpstreamSettings())
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert machine_id_for(cred, UpstreamSettings()) == first
    assert machine_id_for(other, UpstreamSettings()) != first


def test_system_version_configured_wins():
    assert system_version(UpstreamSettings(system_version="linux#6.1")) == "linux#6.1"


def test_system_version_random_pick_is_stable_per_process():
    first = system_version(UpstreamSettings())
    assert first in identity.SYSTEM_VERSIONS
    assert all(system_version(UpstreamSettings()) == first for _ in range(20))


def test_data_plane_headers_kiro_ide_form():
    headers = data_plane_headers(social(), SETTINGS, machine_id=MID)
    kv, node = SETTINGS.kiro_version, SETTINGS.node_version
    assert headers["content-type"] == "application/json"
    assert headers["x-amzn-codewhisperer-optout"] == "true"
    assert headers["x-amzn-kiro-agent-mode"] == "vibe"
    assert headers["x-amz-user-agent"] == f"aws-sdk-js/1.0.34 KiroIDE-{kv}-{MID}"
    assert headers["user-agent"] == (
        f"aws-sdk-js/1.0.34 ua/2.1 os/darwin#24.6.0 lang/js md/nodejs#{node} "
        f"api/codewhispererstreaming#1.0.34 m/E KiroIDE-{kv}-{MID}"
    )
    assert headers["amz-sdk-request"] == "attempt=1; max=3"
    assert headers["Authorization"] == "Bearer aoa-token"
    assert uuid.UUID(headers["amz-sdk-invocation-id"]).version == 4


def test_data_plane_headers_do_not_close_connections():
    headers = {k.lower() for k in data_plane_headers(social(), SETTINGS, machine_id=MID)}
    assert "connection" not in headers
    assert "tokentype" not in headers


def test_data_plane_invocation_id_is_fresh_per_call():
    a = data_plane_headers(social(), SETTINGS, machine_id=MID)["amz-sdk-invocation-id"]
    b = data_plane_headers(social(), SETTINGS, machine_id=MID)["amz-sdk-invocation-id"]
    assert a != b


def test_data_plane_headers_api_key_sends_tokentype():
    cred = api_key()
    headers = data_plane_headers(cred, SETTINGS, machine_id=MID)
    assert headers["Authorization"] == f"Bearer {cred.kiro_api_key}"
    assert headers["tokentype"] == "API_KEY"


def test_data_plane_headers_external_idp_sends_token_type():
    cred = Credential(AuthMethod.EXTERNAL_IDP, refresh_token="r", access_token="ext")
    assert data_plane_headers(cred, SETTINGS, machine_id=MID)["TokenType"] == "EXTERNAL_IDP"


def test_data_plane_headers_bearer_override_and_attempt():
    headers = data_plane_headers(social(), SETTINGS, machine_id=MID, bearer="new", attempt=2)
    assert headers["Authorization"] == "Bearer new"
    assert headers["amz-sdk-request"] == "attempt=2; max=3"


def test_headers_without_token_raise():
    cred = Credential(AuthMethod.SOCIAL, refresh_token=REFRESH)
    with pytest.raises(ValueError, match="no bearer token"):
        data_plane_headers(cred, SETTINGS, machine_id=MID)


def test_mcp_headers_carry_profile_arn_and_no_agent_mode():
    arn = "arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK"
    headers = mcp_headers(social(profile_arn=arn), SETTINGS, machine_id=MID)
    assert headers["x-amzn-kiro-profile-arn"] == arn
    assert "x-amzn-codewhisperer-optout" not in headers
    assert "x-amzn-kiro-agent-mode" not in headers
    assert headers["user-agent"].endswith(f"KiroIDE-{SETTINGS.kiro_version}-{MID}")


def test_mcp_headers_api_key_sends_tokentype():
    assert mcp_headers(api_key(), SETTINGS, machine_id=MID)["tokentype"] == "API_KEY"


def test_usage_headers_runtime_client_form():
    headers = usage_headers(api_key(), SETTINGS, machine_id=MID)
    kv = SETTINGS.kiro_version
    assert headers["x-amz-user-agent"] == f"aws-sdk-js/1.0.0 KiroIDE-{kv}-{MID}"
    assert "api/codewhispererruntime#1.0.0 m/N,E" in headers["user-agent"]
    assert headers["amz-sdk-request"] == "attempt=1; max=1"
    assert headers["tokentype"] == "API_KEY"


def test_social_refresh_headers_user_agent():
    headers = social_refresh_headers(SETTINGS, machine_id=MID)
    assert headers["User-Agent"] == f"KiroIDE-{SETTINGS.kiro_version}-{MID}"
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json, text/plain, */*"


def test_social_login_headers_without_machine_id():
    headers = social_refresh_headers(SETTINGS, machine_id=None)
    assert headers["User-Agent"] == f"KiroIDE-{SETTINGS.kiro_version}"


def test_oidc_headers_sso_sdk_form():
    headers = oidc_headers(SETTINGS)
    assert headers["x-amz-user-agent"] == "aws-sdk-js/3.980.0 KiroIDE"
    assert headers["user-agent"] == (
        f"aws-sdk-js/3.980.0 ua/2.1 os/darwin#24.6.0 lang/js md/nodejs#{SETTINGS.node_version} "
        "api/sso-oidc#3.980.0 m/E KiroIDE"
    )
    assert headers["amz-sdk-request"] == "attempt=1; max=4"
    assert "Authorization" not in headers


def test_machine_id_refresh_token_wins_over_api_key_like_kiro_rs():
    cred = Credential(AuthMethod.API_KEY, kiro_api_key="ksk_abc", refresh_token=REFRESH)
    expected = hashlib.sha256(f"KotlinNativeAPI/{REFRESH}".encode()).hexdigest()
    assert machine_id_for(cred, UpstreamSettings()) == expected
