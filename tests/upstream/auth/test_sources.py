import json
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kirogate.errors import CredentialSourceError
from kirogate.upstream.auth.sources import (
    discover_credentials,
    load_credentials_file,
    load_env_credentials,
    load_kiro2api_token,
    parse_expires_at,
)
from kirogate.upstream.credentials import AuthMethod

RT = "aorAAAAAG" + "x" * 120
RT2 = "aorAAAAAG" + "y" * 120
RT3 = "aorAAAAAG" + "z" * 120
ARN = "arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK"


def write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def error_of(fn, *args, **kw) -> str:
    with pytest.raises(CredentialSourceError) as info:
        fn(*args, **kw)
    return str(info.value)


# ---------------------------------------------------------------- expiresAt


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-12-31T02:32:45.144Z", datetime(2025, 12, 31, 2, 32, 45, 144000, UTC)),
        ("2025-12-31T02:32:45Z", datetime(2025, 12, 31, 2, 32, 45, tzinfo=UTC)),
        ("2025-12-31T02:32:45+00:00", datetime(2025, 12, 31, 2, 32, 45, tzinfo=UTC)),
        (
            "2026-01-01T10:00:00.123456789+00:00",
            datetime(2026, 1, 1, 10, 0, 0, 123456, UTC),
        ),
        ("2026-01-01T10:00:00.1Z", datetime(2026, 1, 1, 10, 0, 0, 100000, UTC)),
        ("2026-01-01T18:00:00+08:00", datetime(2026, 1, 1, 10, 0, 0, tzinfo=UTC)),
        ("2026-01-01T10:00:00", datetime(2026, 1, 1, 10, 0, 0, tzinfo=UTC)),
    ],
)
def test_parse_expires_at_rfc3339_variants(text, expected):
    assert parse_expires_at(text) == expected


def test_parse_expires_at_epoch_seconds_and_millis():
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_expires_at(moment.timestamp()) == moment
    assert parse_expires_at(int(moment.timestamp() * 1000)) == moment


@pytest.mark.parametrize("text", ["tomorrow", "2025-13-01T00:00:00Z", "2025-12-31", ""])
def test_parse_expires_at_rejects_garbage(text):
    with pytest.raises(ValueError):
        parse_expires_at(text)


# ---------------------------------------------------------------- Kiro IDE file


def test_ide_social_file(tmp_path):
    path = write(
        tmp_path / "kiro-auth-token.json",
        {
            "accessToken": "aoaAAAAAG-access",
            "refreshToken": RT,
            "profileArn": ARN,
            "expiresAt": "2025-12-31T02:32:45.144Z",
            "authMethod": "social",
            "provider": "Google",
        },
    )
    [cred] = load_credentials_file(path)
    assert cred.auth_method is AuthMethod.SOCIAL
    assert cred.refresh_token == RT
    assert cred.access_token == "aoaAAAAAG-access"
    assert cred.profile_arn == ARN
    assert cred.provider == "Google"
    assert cred.expires_at == datetime(2025, 12, 31, 2, 32, 45, 144000, UTC)
    assert cred.origin.kind == "kiro-ide"
    assert cred.origin.path == path
    assert cred.origin.index is None
    assert cred.id == 1


def test_ide_idc_file_loads_client_from_companion(tmp_path):
    write(
        tmp_path / "abc123.json",
        {"clientId": "uG-18bI", "clientSecret": "eyJraWQi", "expiresAt": "2026-03-01T00:00:00Z"},
    )
    # A stray JSON in the cache dir must not be merged (AIClient-2-API does; we do not).
    write(tmp_path / "stray.json", {"profileArn": "arn:evil", "refreshToken": RT2})
    path = write(
        tmp_path / "kiro-auth-token.json",
        {
            "accessToken": "aoa",
            "refreshToken": RT,
            "expiresAt": "2025-12-31T02:32:45.144Z",
            "clientIdHash": "abc123",
            "authMethod": "IdC",
            "provider": "BuilderId",
            "region": "us-east-1",
        },
    )
    [cred] = load_credentials_file(path)
    assert cred.auth_method is AuthMethod.IDC
    assert (cred.client_id, cred.client_secret) == ("uG-18bI", "eyJraWQi")
    assert cred.client_id_hash == "abc123"
    assert cred.region == "us-east-1"
    assert cred.profile_arn is None
    assert cred.refresh_token == RT
    # The token's expiry, not the registration's.
    assert cred.expires_at == datetime(2025, 12, 31, 2, 32, 45, 144000, UTC)


def test_ide_idc_without_auth_method_is_inferred_from_client_id_hash(tmp_path):
    write(tmp_path / "h1.json", {"clientId": "cid", "clientSecret": "sec"})
    path = write(tmp_path / "kiro-auth-token.json", {"refreshToken": RT, "clientIdHash": "h1"})
    assert load_credentials_file(path)[0].auth_method is AuthMethod.IDC


def test_ide_idc_missing_companion_names_file_and_field(tmp_path):
    path = write(
        tmp_path / "kiro-auth-token.json",
        {"refreshToken": RT, "clientIdHash": "deadbeef", "authMethod": "IdC"},
    )
    message = error_of(load_credentials_file, path)
    assert str(path) in message
    assert "'clientId'" in message
    assert str(tmp_path / "deadbeef.json") in message


def test_ide_idc_companion_without_secret_names_companion(tmp_path):
    companion = write(tmp_path / "h2.json", {"clientId": "cid"})
    path = write(
        tmp_path / "kiro-auth-token.json",
        {"refreshToken": RT, "clientIdHash": "h2", "authMethod": "IdC"},
    )
    message = error_of(load_credentials_file, path)
    assert message.startswith(str(companion))
    assert "'clientSecret'" in message


def test_ide_client_id_hash_cannot_escape_directory(tmp_path):
    path = write(
        tmp_path / "kiro-auth-token.json",
        {"refreshToken": RT, "clientIdHash": "../etc/passwd", "authMethod": "IdC"},
    )
    assert "'clientIdHash'" in error_of(load_credentials_file, path)


def test_idc_without_client_id_or_hash_is_rejected(tmp_path):
    path = write(tmp_path / "c.json", {"refreshToken": RT, "authMethod": "idc"})
    message = error_of(load_credentials_file, path)
    assert str(path) in message
    assert "'clientId'" in message


# ---------------------------------------------------------------- AIClient-2-API variants


def test_aiclient_social_file(tmp_path):
    path = write(
        tmp_path / "1700_kiro-auth-token.json",
        {
            "accessToken": "a",
            "refreshToken": RT,
            "profileArn": ARN,
            "socialProvider": "Github",
            "expiresAt": "2026-01-01T00:00:00.000Z",
            "authMethod": "social",
            "region": "us-east-1",
        },
    )
    [cred] = load_credentials_file(path)
    assert cred.origin.kind == "kiro-ide"
    assert cred.provider == "Github"
    assert cred.auth_method is AuthMethod.SOCIAL


def test_aiclient_builder_id_file(tmp_path):
    path = write(
        tmp_path / "oauth_creds.json",
        {
            "accessToken": "a",
            "refreshToken": RT,
            "expiresAt": "2026-01-01T00:00:00.000Z",
            "authMethod": "builder-id",
            "clientId": "cid",
            "clientSecret": "sec",
            "idcRegion": "eu-west-1",
        },
    )
    [cred] = load_credentials_file(path)
    assert cred.auth_method is AuthMethod.IDC
    assert cred.auth_region == "eu-west-1"
    assert cred.effective_auth_region == "eu-west-1"
    assert cred.origin.kind == "kiro-ide"


# ---------------------------------------------------------------- kiro.rs credentials.json


def test_kiro_rs_single_object(tmp_path):
    path = write(
        tmp_path / "credentials.json",
        {
            "refreshToken": RT,
            "expiresAt": "2025-12-31T02:32:45.144Z",
            "authMethod": "social",
            "machineId": "a" * 64,
        },
    )
    [cred] = load_credentials_file(path)
    assert cred.origin.kind == "kiro-rs"
    assert cred.origin.array is False
    assert cred.machine_id == "a" * 64


def test_kiro_rs_array_every_field(tmp_path):
    path = write(
        tmp_path / "credentials.json",
        [
            {
                "id": 7,
                "accessToken": "acc",
                "refreshToken": RT,
                "profileArn": ARN,
                "expiresAt": "2026-01-01T10:00:00.123456789+00:00",
                "authMethod": "IAM",
                "clientId": "cid",
                "clientSecret": "sec",
                "priority": 2,
                "region": "us-east-2",
                "authRegion": "us-west-2",
                "apiRegion": "eu-central-1",
                "machineId": "2582956e-cc88-4669-b546-07adbffcb894",
                "email": "a@example.com",
                "subscriptionTitle": "KIRO PRO+",
                "proxyUrl": "socks5://127.0.0.1:1080",
                "proxyUsername": "u",
                "proxyPassword": "p",
                "disabled": True,
                "endpoint": "ide",
                "customNote": {"keep": [1, 2]},
            }
        ],
    )
    [cred] = load_credentials_file(path)
    assert cred.id == 7
    assert cred.auth_method is AuthMethod.IDC
    assert cred.access_token == "acc"
    assert cred.profile_arn == ARN
    assert cred.expires_at == datetime(2026, 1, 1, 10, 0, 0, 123456, UTC)
    assert (cred.client_id, cred.client_secret) == ("cid", "sec")
    assert cred.priority == 2
    assert (cred.region, cred.auth_region, cred.api_region) == (
        "us-east-2",
        "us-west-2",
        "eu-central-1",
    )
    assert cred.effective_auth_region == "us-west-2"
    assert cred.machine_id == "2582956e-cc88-4669-b546-07adbffcb894"
    assert cred.email == "a@example.com"
    assert cred.subscription_title == "KIRO PRO+"
    assert cred.proxy_url == "socks5://127.0.0.1:1080"
    assert (cred.proxy_username, cred.proxy_password) == ("u", "p")
    assert cred.disabled is True
    assert cred.disabled_reason == "Manual"
    assert cred.endpoint == "ide"
    assert cred.extra == {"customNote": {"keep": [1, 2]}}
    assert cred.origin.kind == "kiro-rs"
    assert cred.origin.array is True
    assert cred.origin.index == 0


def test_kiro_rs_spec_example_array(tmp_path):
    path = write(
        tmp_path / "credentials.json",
        [
            {
                "refreshToken": RT,
                "expiresAt": "2025-12-31T02:32:45.144Z",
                "authMethod": "social",
                "machineId": "a" * 64,
                "priority": 0,
                "endpoint": "ide",
            },
            {
                "refreshToken": RT2,
                "expiresAt": "2025-12-31T02:32:45.144Z",
                "authMethod": "idc",
                "clientId": "xxxxxxxxx",
                "clientSecret": "xxxxxxxxx",
                "region": "us-east-2",
                "machineId": "b" * 64,
                "priority": 1,
                "disabled": True,
            },
            {"refreshToken": RT3, "authMethod": "social", "priority": 2, "proxyUrl": "DIRECT"},
        ],
    )
    creds = load_credentials_file(path)
    assert [c.auth_method for c in creds] == [AuthMethod.SOCIAL, AuthMethod.IDC, AuthMethod.SOCIAL]
    assert [c.priority for c in creds] == [0, 1, 2]
    assert [c.disabled for c in creds] == [False, True, False]
    assert creds[2].proxy_url == "direct"
    assert creds[2].expires_at is None


@pytest.mark.parametrize("method", ["builder-id", "Builder-ID", "iam", "IDC", "IdC"])
def test_kiro_rs_idc_aliases_canonicalised(tmp_path, method):
    path = write(
        tmp_path / "c.json",
        [{"refreshToken": RT, "authMethod": method, "clientId": "c", "clientSecret": "s"}],
    )
    assert load_credentials_file(path)[0].auth_method is AuthMethod.IDC


def test_auth_method_inferred_idc_when_client_pair_present(tmp_path):
    path = write(tmp_path / "c.json", [{"refreshToken": RT, "clientId": "c", "clientSecret": "s"}])
    assert load_credentials_file(path)[0].auth_method is AuthMethod.IDC


def test_auth_method_inferred_social_otherwise(tmp_path):
    path = write(tmp_path / "c.json", [{"refreshToken": RT, "clientId": "c"}])
    assert load_credentials_file(path)[0].auth_method is AuthMethod.SOCIAL


def test_missing_ids_assigned_after_max(tmp_path):
    path = write(
        tmp_path / "c.json",
        [{"refreshToken": RT}, {"id": 5, "refreshToken": RT2}, {"refreshToken": RT3}],
    )
    assert [c.id for c in load_credentials_file(path)] == [6, 5, 7]


def test_duplicate_ids_rejected(tmp_path):
    path = write(
        tmp_path / "c.json", [{"id": 1, "refreshToken": RT}, {"id": 1, "refreshToken": RT2}]
    )
    message = error_of(load_credentials_file, path)
    assert f"{path}[1]" in message
    assert "'id'" in message
    assert "duplicate id 1" in message


def test_api_key_file(tmp_path):
    path = write(
        tmp_path / "c.json", {"kiroApiKey": "ksk_your_api_key_here", "authMethod": "api_key"}
    )
    [cred] = load_credentials_file(path)
    assert cred.auth_method is AuthMethod.API_KEY
    assert cred.kiro_api_key == "ksk_your_api_key_here"
    assert cred.refresh_token is None
    assert cred.bearer == "ksk_your_api_key_here"


def test_kiro_api_key_alone_makes_api_key_credential(tmp_path):
    path = write(tmp_path / "c.json", [{"kiroApiKey": "ksk_abc"}])
    assert load_credentials_file(path)[0].auth_method is AuthMethod.API_KEY


def test_api_key_method_without_key_rejected(tmp_path):
    path = write(tmp_path / "c.json", {"authMethod": "apikey"})
    assert "'kiroApiKey'" in error_of(load_credentials_file, path)


def test_empty_file_gives_no_credentials(tmp_path):
    assert load_credentials_file(write(tmp_path / "c.json", "  \n")) == []


# ---------------------------------------------------------------- bad input


def test_missing_file_named(tmp_path):
    path = tmp_path / "nope.json"
    message = error_of(load_credentials_file, path)
    assert str(path) in message
    assert "not found" in message


def test_directory_instead_of_file(tmp_path):
    assert "directory" in error_of(load_credentials_file, tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file(tmp_path):
    path = write(tmp_path / "c.json", {"refreshToken": RT})
    path.chmod(0)
    assert "permission denied" in error_of(load_credentials_file, path)


def test_invalid_json_reports_line_and_column(tmp_path):
    path = write(tmp_path / "c.json", '{\n  "refreshToken": "abc",\n  oops\n}')
    message = error_of(load_credentials_file, path)
    assert str(path) in message
    assert "line 3 column 3" in message


def test_top_level_scalar_rejected(tmp_path):
    assert "got a number" in error_of(load_credentials_file, write(tmp_path / "c.json", "42"))


def test_array_element_not_object_rejected(tmp_path):
    path = write(tmp_path / "c.json", [{"refreshToken": RT}, "oops"])
    assert f"{path}[1]" in error_of(load_credentials_file, path)


def test_wrong_type_names_field(tmp_path):
    path = write(tmp_path / "c.json", [{"refreshToken": 12345}])
    message = error_of(load_credentials_file, path)
    assert f"{path}[0]: field 'refreshToken': must be a string, got a number" in message


@pytest.mark.parametrize(
    ("key", "value"),
    [("id", -1), ("id", "1"), ("priority", True), ("disabled", "yes"), ("region", 5)],
)
def test_wrong_types_rejected(tmp_path, key, value):
    path = write(tmp_path / "c.json", [{"refreshToken": RT, key: value}])
    assert f"'{key}'" in error_of(load_credentials_file, path)


def test_missing_refresh_token_rejected(tmp_path):
    path = write(tmp_path / "c.json", {"accessToken": "a", "authMethod": "social"})
    message = error_of(load_credentials_file, path)
    assert "'refreshToken'" in message
    assert "missing" in message


@pytest.mark.parametrize("token", ["aorAAAAAG...", "aorAAAAAG" + "x" * 120 + "...", "aorA…wxyz"])
def test_truncated_refresh_token_rejected(tmp_path, token):
    path = write(tmp_path / "c.json", {"refreshToken": token})
    assert "truncated" in error_of(load_credentials_file, path)


def test_short_refresh_token_only_warns(tmp_path, caplog):
    path = write(tmp_path / "c.json", {"refreshToken": "rt-short"})
    with caplog.at_level(logging.WARNING):
        [cred] = load_credentials_file(path)
    assert cred.refresh_token == "rt-short"
    assert "only 8 characters" in caplog.text
    assert "rt-short" not in caplog.text


def test_unknown_auth_method_rejected(tmp_path):
    path = write(tmp_path / "c.json", {"refreshToken": RT, "authMethod": "saml"})
    message = error_of(load_credentials_file, path)
    assert "'authMethod'" in message
    assert "saml" in message


def test_bad_expires_at_rejected(tmp_path):
    path = write(tmp_path / "c.json", {"refreshToken": RT, "expiresAt": "next tuesday"})
    message = error_of(load_credentials_file, path)
    assert str(path) in message
    assert "'expiresAt'" in message


def test_bad_proxy_url_rejected(tmp_path):
    path = write(tmp_path / "c.json", {"refreshToken": RT, "proxyUrl": "ftp://x"})
    assert "'proxyUrl'" in error_of(load_credentials_file, path)


def test_unknown_endpoint_rejected(tmp_path):
    path = write(tmp_path / "c.json", {"refreshToken": RT, "endpoint": "cli"})
    assert "'endpoint'" in error_of(load_credentials_file, path)


# ---------------------------------------------------------------- kiro2api KIRO_AUTH_TOKEN

KIRO2API = [
    {"auth": "Social", "refreshToken": RT, "disabled": False},
    {"auth": "IdC", "refreshToken": RT2, "clientId": "uG-18bI", "clientSecret": "eyJ"},
    {"auth": "social", "refreshToken": RT3, "disabled": True},
]


def test_kiro2api_inline_json():
    creds = load_kiro2api_token(json.dumps(KIRO2API))
    assert [c.auth_method for c in creds] == [AuthMethod.SOCIAL, AuthMethod.IDC, AuthMethod.SOCIAL]
    assert creds[1].client_id == "uG-18bI"
    assert creds[2].disabled is True
    assert creds[2].disabled_reason == "Manual"
    assert creds[0].origin.kind == "env"
    assert creds[0].origin.path is None


def test_kiro2api_path_to_file(tmp_path):
    path = write(tmp_path / "tokens.json", KIRO2API[:1])
    [cred] = load_kiro2api_token(str(path))
    assert cred.origin.kind == "kiro2api"
    assert cred.origin.path == path
    assert cred.origin.array is True


def test_kiro2api_single_object():
    [cred] = load_kiro2api_token(json.dumps({"auth": "Social", "refreshToken": RT}))
    assert cred.auth_method is AuthMethod.SOCIAL


def test_kiro2api_empty_auth_means_social():
    [cred] = load_kiro2api_token(json.dumps([{"auth": "", "refreshToken": RT}]))
    assert cred.auth_method is AuthMethod.SOCIAL


def test_kiro2api_unknown_auth_rejected():
    message = error_of(load_kiro2api_token, json.dumps([{"auth": "OAuth", "refreshToken": RT}]))
    assert "env KIRO_AUTH_TOKEN[0]: field 'auth'" in message
    assert "Social, IdC" in message


def test_kiro2api_idc_without_secret_rejected():
    message = error_of(
        load_kiro2api_token, json.dumps([{"auth": "IdC", "refreshToken": RT, "clientId": "c"}])
    )
    assert "'clientSecret'" in message


def test_kiro2api_neither_file_nor_json():
    assert "neither an existing file nor JSON" in error_of(load_kiro2api_token, "/no/such/file")


# ---------------------------------------------------------------- environment


def test_env_ki2api_tokens():
    [cred] = load_env_credentials({"KIRO_ACCESS_TOKEN": "acc", "KIRO_REFRESH_TOKEN": RT})
    assert cred.auth_method is AuthMethod.SOCIAL
    assert (cred.access_token, cred.refresh_token) == ("acc", RT)
    assert cred.expires_at is None  # unknown: refreshed on first use
    assert cred.origin.kind == "env"


def test_env_ki2api_access_token_alone_rejected():
    message = error_of(load_env_credentials, {"KIRO_ACCESS_TOKEN": "acc"})
    assert "'KIRO_REFRESH_TOKEN'" in message


def test_env_refresh_token_social_defaults():
    [cred] = load_env_credentials({"REFRESH_TOKEN": RT})
    assert cred.auth_method is AuthMethod.SOCIAL
    assert cred.expires_at is None


def test_env_refresh_token_idc_with_region_and_expiry():
    [cred] = load_env_credentials(
        {
            "REFRESH_TOKEN": RT,
            "AUTH_METHOD": "idc",
            "CLIENT_ID": "cid",
            "CLIENT_SECRET": "sec",
            "EXPIRES_AT": "2020-01-01T00:00:00.000Z",
            "REGION": "eu-central-1",
        }
    )
    assert cred.auth_method is AuthMethod.IDC
    assert (cred.client_id, cred.client_secret) == ("cid", "sec")
    assert cred.expires_at == datetime(2020, 1, 1, tzinfo=UTC)
    assert cred.region == "eu-central-1"
    assert cred.api_region == "eu-central-1"


def test_env_refresh_token_idc_errors_name_env_var():
    message = error_of(load_env_credentials, {"REFRESH_TOKEN": RT, "AUTH_METHOD": "idc"})
    assert "'CLIENT_ID'" in message


def test_env_bad_expires_at_names_env_var():
    message = error_of(load_env_credentials, {"REFRESH_TOKEN": RT, "EXPIRES_AT": "soon"})
    assert "'EXPIRES_AT'" in message


def test_env_credentials_json_array():
    raw = json.dumps([{"refreshToken": RT, "apiRegion": "us-east-1"}, {"refreshToken": RT2}])
    creds = load_env_credentials({"CREDENTIALS_JSON": raw, "REGION": "eu-central-1"})
    assert [c.api_region for c in creds] == ["us-east-1", "eu-central-1"]
    assert [c.origin.index for c in creds] == [0, 1]
    assert [c.id for c in creds] == [1, 2]


def test_env_credentials_json_invalid_json():
    message = error_of(load_env_credentials, {"CREDENTIALS_JSON": "[{"})
    assert message.startswith("env CREDENTIALS_JSON")
    assert "line 1" in message


def test_env_kiro_api_key_comes_first():
    creds = load_env_credentials({"REFRESH_TOKEN": RT, "KIRO_API_KEY": "ksk_abcdef"})
    assert creds[0].auth_method is AuthMethod.API_KEY
    assert creds[0].kiro_api_key == "ksk_abcdef"
    assert creds[0].priority == 0
    assert creds[1].auth_method is AuthMethod.SOCIAL


def test_env_without_variables_gives_nothing():
    assert load_env_credentials({"PATH": "/bin"}) == []


# ---------------------------------------------------------------- discovery


def test_discover_uses_default_ide_file_when_nothing_configured(tmp_path):
    ide = write(tmp_path / ".aws/sso/cache/kiro-auth-token.json", {"refreshToken": RT})
    result = discover_credentials([], [], {"HOME": str(tmp_path)})
    [cred] = result.credentials
    assert cred.origin.path == ide
    assert any(str(ide) in line for line in result.looked_at)


def test_discover_skips_default_ide_file_when_sources_configured(tmp_path):
    write(tmp_path / ".aws/sso/cache/kiro-auth-token.json", {"refreshToken": RT})
    result = discover_credentials([], [], {"HOME": str(tmp_path), "REFRESH_TOKEN": RT2})
    assert [c.refresh_token for c in result.credentials] == [RT2]


def test_discover_nothing_found_lists_places(tmp_path):
    result = discover_credentials([], [], {"HOME": str(tmp_path)})
    assert result.credentials == []
    places = "\n".join(result.looked_at)
    assert str(tmp_path / ".aws/sso/cache/kiro-auth-token.json") in places
    assert "not found" in places
    assert "KIRO_AUTH_TOKEN" in places


def test_discover_default_ide_file_can_be_turned_off(tmp_path):
    write(tmp_path / ".aws/sso/cache/kiro-auth-token.json", {"refreshToken": RT})
    result = discover_credentials([], [], {"HOME": str(tmp_path)}, default_ide_file=False)
    assert result.credentials == []


def test_discover_expands_home_in_paths(tmp_path):
    write(tmp_path / "creds.json", [{"refreshToken": RT}])
    result = discover_credentials([Path("~/creds.json")], [], {"HOME": str(tmp_path)})
    assert len(result.credentials) == 1


def test_discover_orders_and_assigns_unique_ids(tmp_path):
    a = write(tmp_path / "a.json", [{"id": 2, "refreshToken": RT}, {"refreshToken": RT2}])
    ide = write(tmp_path / "kiro-auth-token.json", {"refreshToken": RT3})
    result = discover_credentials([a], [ide], {"KIRO_API_KEY": "ksk_key"})
    creds = result.credentials
    assert creds[0].auth_method is AuthMethod.API_KEY
    assert [c.refresh_token for c in creds[1:]] == [RT, RT2, RT3]
    assert [c.id for c in creds] == [3, 2, 4, 5]


def test_discover_duplicate_ids_across_files(tmp_path):
    a = write(tmp_path / "a.json", [{"id": 1, "refreshToken": RT}])
    b = write(tmp_path / "b.json", [{"id": 1, "refreshToken": RT2}])
    message = error_of(discover_credentials, [a, b], [], {})
    assert f"{b}[0]" in message
    assert f"{a}[0]" in message


def test_discover_deduplicates_same_refresh_token(tmp_path, caplog):
    ide = write(tmp_path / "kiro-auth-token.json", {"refreshToken": RT})
    with caplog.at_level(logging.WARNING):
        result = discover_credentials([], [ide], {"KIRO_REFRESH_TOKEN": RT})
    [cred] = result.credentials
    assert cred.origin.kind == "kiro-ide"
    assert "same credential" in caplog.text


def test_discover_same_file_twice_read_once(tmp_path):
    a = write(tmp_path / "a.json", [{"refreshToken": RT}])
    result = discover_credentials([a, tmp_path / "." / "a.json"], [], {})
    assert len(result.credentials) == 1


def test_discover_explicit_missing_file_is_an_error(tmp_path):
    assert "not found" in error_of(discover_credentials, [tmp_path / "missing.json"], [], {})


def test_expires_at_offset_kept_as_utc(tmp_path):
    path = write(
        tmp_path / "c.json", {"refreshToken": RT, "expiresAt": "2026-01-01T02:00:00-03:00"}
    )
    [cred] = load_credentials_file(path)
    assert cred.expires_at == datetime(2026, 1, 1, 5, tzinfo=UTC)
    assert cred.expires_at.utcoffset() == timedelta(0)
    assert cred.expires_at.tzinfo in (UTC, UTC)


def test_env_kiro_auth_token_loaded(tmp_path):
    path = write(tmp_path / "tokens.json", KIRO2API)
    creds = load_env_credentials({"KIRO_AUTH_TOKEN": str(path)})
    assert len(creds) == 3
    assert creds[1].origin.kind == "kiro2api"


def test_env_deprecated_kiro2api_variables_warned(caplog):
    with caplog.at_level(logging.WARNING):
        assert load_env_credentials({"AWS_REFRESHTOKEN": RT}) == []
    assert "AWS_REFRESHTOKEN is a deprecated kiro2api variable" in caplog.text
    assert RT not in caplog.text


def test_external_idp_inferred_from_provider(tmp_path):
    path = write(
        tmp_path / "kiro-auth-token.json",
        {"refreshToken": "ext-rt", "provider": "ExternalIdp", "tokenEndpoint": "https://idp/t"},
    )
    [cred] = load_credentials_file(path)
    assert cred.auth_method is AuthMethod.EXTERNAL_IDP
    assert cred.token_endpoint == "https://idp/t"


def test_external_idp_without_token_endpoint_rejected(tmp_path):
    path = write(tmp_path / "c.json", {"refreshToken": RT, "authMethod": "external_idp"})
    assert "'tokenEndpoint'" in error_of(load_credentials_file, path)


def test_companion_file_not_an_object(tmp_path):
    companion = write(tmp_path / "h3.json", ["x"])
    path = write(
        tmp_path / "kiro-auth-token.json",
        {"refreshToken": RT, "clientIdHash": "h3", "authMethod": "IdC"},
    )
    assert error_of(load_credentials_file, path).startswith(str(companion))


def test_short_refresh_token_warns_once_per_process(tmp_path, caplog):
    path = write(tmp_path / "c.json", {"refreshToken": "rt-once"})
    with caplog.at_level(logging.WARNING):
        load_credentials_file(path)
        load_credentials_file(path)
    assert caplog.text.count("only 7 characters") == 1


def test_discovery_does_not_warn_about_short_tokens(tmp_path, caplog):
    path = write(tmp_path / "c.json", {"refreshToken": "rt-quiet"})
    with caplog.at_level(logging.WARNING):
        found = discover_credentials([path], [], {"HOME": str(tmp_path)})
    assert found.credentials[0].refresh_token == "rt-quiet"
    assert "characters" not in caplog.text


def test_a_file_entry_with_a_line_break_in_a_token_is_skipped_with_a_warning(tmp_path, caplog):
    path = write(
        tmp_path / "credentials.json",
        [{"refreshToken": RT}, {"kiroApiKey": "ksk_bad\r\nX-Injected: 1"}, {"refreshToken": RT2}],
    )
    with caplog.at_level(logging.WARNING, logger="kirogate.upstream.auth.sources"):
        creds = load_credentials_file(path)
    assert [c.refresh_token for c in creds] == [RT, RT2]
    assert "kiroApiKey" in caplog.text
    assert "ksk_bad" not in caplog.text


def test_an_env_credential_with_a_control_character_is_skipped(caplog):
    with caplog.at_level(logging.WARNING, logger="kirogate.upstream.auth.sources"):
        creds = load_env_credentials({"KIRO_API_KEY": "ksk_a\x00b", "REFRESH_TOKEN": RT})
    assert [c.refresh_token for c in creds] == [RT]
    assert "kiroApiKey" in caplog.text


def test_discovery_skips_an_env_credential_with_a_bad_region():
    found = discover_credentials(
        [], [], {"REFRESH_TOKEN": RT, "REGION": "us-east-1.evil.example/x"}
    )
    assert found.credentials == []


def test_an_object_given_directly_names_the_unusable_field():
    from kirogate.upstream.auth.sources import credential_from_object
    from kirogate.upstream.credentials import CredentialOrigin

    with pytest.raises(CredentialSourceError) as caught:
        credential_from_object(
            {"refreshToken": RT, "proxyUrl": "http://proxy:1/\nx"},
            source="accounts add",
            origin=CredentialOrigin("store"),
            names={"proxyUrl": "--proxy-url"},
        )
    assert caught.value.field == "--proxy-url"


@pytest.mark.parametrize("field", ["priority", "id"])
def test_an_integer_the_store_cannot_hold_is_rejected_naming_the_field(field):
    from kirogate.upstream.auth.sources import credential_from_object
    from kirogate.upstream.credentials import CredentialOrigin

    with pytest.raises(CredentialSourceError, match="at most 2147483647") as caught:
        credential_from_object(
            {"refreshToken": RT, field: 2**31},
            source="credential",
            origin=CredentialOrigin("admin"),
        )
    assert caught.value.field == field
    fits = credential_from_object(
        {"refreshToken": RT, "priority": 2**31 - 1}, source="c", origin=CredentialOrigin("admin")
    )
    assert fits.priority == 2**31 - 1
