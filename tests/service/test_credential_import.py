"""Reading import bodies into credentials item by item, and the export they read back."""

from __future__ import annotations

import base64
import contextlib
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kirogate.errors import InvalidRequest
from kirogate.service.credential_import import export_entry, parse_import, read_item
from kirogate.upstream.credentials import AuthMethod, Credential

REFRESH_ONE = "aorAAAA-import-one-" + "1" * 100
REFRESH_TWO = "aorAAAA-import-two-" + "2" * 100
CLIENT_SECRET = "import-client-secret-" + "c" * 30
PROXY_PASSWORD = "import-proxy-pass-9876"


def parse(body: object, content_type: str = "application/json", **query: str) -> list[object]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_import(raw, content_type, **query)  # type: ignore[arg-type,return-value]


def test_a_kiro_rs_array_gives_one_credential_each_ids_ignored() -> None:
    items = parse_import(
        json.dumps(
            [{"id": 7, "refreshToken": REFRESH_ONE}, {"refreshToken": REFRESH_TWO}]
        ).encode(),
        "application/json",
    )
    assert [item.index for item in items] == [0, 1]
    assert all(item.credential is not None and item.credential.id is None for item in items)


def test_one_object_is_one_ide_token_file() -> None:
    (item,) = parse_import(
        json.dumps({"refreshToken": REFRESH_ONE, "authMethod": "social"}).encode(), ""
    )
    assert item.credential is not None
    assert item.credential.auth_method is AuthMethod.SOCIAL


def test_a_base64_pool_entry_is_decoded_and_its_disabled_flag_kept() -> None:
    token = base64.b64encode(json.dumps({"refreshToken": REFRESH_ONE}).encode()).decode()
    body = {
        "claude-kiro-oauth": [{"uuid": "u", "KIRO_OAUTH_CREDS_BASE64": token, "isDisabled": True}]
    }
    (item,) = parse_import(json.dumps(body).encode(), "application/json")
    assert item.credential is not None
    assert item.credential.refresh_token == REFRESH_ONE
    assert item.credential.disabled


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"KIRO_OAUTH_CREDS_BASE64": "%%%"}, "KIRO_OAUTH_CREDS_BASE64"),
        ({"KIRO_OAUTH_CREDS_BASE64": 3}, "KIRO_OAUTH_CREDS_BASE64"),
        ({"KIRO_OAUTH_CREDS_BASE64": base64.b64encode(b"[1]").decode()}, "KIRO_OAUTH_CREDS_BASE64"),
        ({"uuid": "u", "KIRO_OAUTH_CREDS_FILE_PATH": "./a.json"}, "KIRO_OAUTH_CREDS_FILE_PATH"),
        ({"uuid": "u"}, None),
    ],
)
def test_a_pool_entry_without_usable_tokens_is_invalid(
    entry: dict[str, object], field: str | None
) -> None:
    item = read_item(2, entry)
    assert item.credential is None
    assert item.field == field
    assert item.reason is not None
    assert item.reason.startswith(f"[2].{field}: " if field else "[2]: ")


def test_plain_text_tokens_skip_blanks_and_comments() -> None:
    raw = f"# a comment\n\n {REFRESH_ONE} \n{REFRESH_TWO}\n".encode()
    items = parse_import(raw, "text/plain", auth_method="social", region="eu-west-1")
    creds = [item.credential for item in items]
    assert [c.refresh_token for c in creds if c] == [REFRESH_ONE, REFRESH_TWO]
    assert {c.region for c in creds if c} == {"eu-west-1"}


def test_a_file_of_tokens_sent_as_octet_stream_is_read_as_lines() -> None:
    items = parse_import(f"{REFRESH_ONE}\r\n".encode(), "application/octet-stream")
    assert items[0].credential is not None


def test_an_idc_token_list_needs_the_client_in_the_wrapper() -> None:
    body = {"refresh_tokens": [REFRESH_ONE], "auth_method": "idc"}
    (item,) = parse_import(json.dumps(body).encode(), "application/json")
    assert item.field == "clientId"
    body |= {"client_id": "cid", "client_secret": CLIENT_SECRET}
    (item,) = parse_import(json.dumps(body).encode(), "application/json")
    assert item.credential is not None
    assert item.credential.client_secret == CLIENT_SECRET


def test_a_reason_never_shows_a_secret() -> None:
    item = read_item(0, {"refreshToken": REFRESH_ONE, "proxyUrl": f"ftp://u:{PROXY_PASSWORD}@h"})
    assert item.reason is not None
    assert PROXY_PASSWORD not in item.reason
    truncated = read_item(1, {"refreshToken": REFRESH_ONE[:50] + "..."})
    assert truncated.reason is not None
    assert truncated.reason.startswith("[1].refreshToken: looks truncated")
    assert REFRESH_ONE[:50] not in truncated.reason


@pytest.mark.parametrize(
    ("raw", "content_type", "param"),
    [
        (b"   ", "application/json", "body"),
        (b"{oops", "application/json", "body"),
        (b"plain words", "application/json", "body"),
        (b"[]", "", "body"),
        (b"42", "application/json", "body"),
        (b'{"refresh_tokens": [], "auth_method": 3}', "application/json", "auth_method"),
        (b'{"refresh_tokens": ["x"], "auth_method": "api_key"}', "application/json", "auth_method"),
        (json.dumps([{}] * 1001).encode(), "application/json", "body"),
    ],
)
def test_an_unreadable_body_raises_naming_the_parameter(
    raw: bytes, content_type: str, param: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_import(raw, content_type)
    assert raised.value.param == param


def test_export_without_secrets_masks_the_proxy_and_drops_tokens() -> None:
    credential = Credential(
        AuthMethod.IDC,
        refresh_token=REFRESH_ONE,
        client_id="cid",
        client_secret=CLIENT_SECRET,
        proxy_url=f"http://bob:{PROXY_PASSWORD}@proxy:8080",
        expires_at=datetime(2026, 1, 2, tzinfo=UTC),
        id=4,
        priority=2,
    )
    entry = export_entry(credential, disabled_reason="manual", secrets=False)
    text = json.dumps(entry)
    assert REFRESH_ONE not in text and CLIENT_SECRET not in text and PROXY_PASSWORD not in text
    assert entry["proxyUrl"] == "http://bob:***@proxy:8080"
    assert (entry["id"], entry["disabled"], entry["clientId"]) == (4, True, "cid")


def test_export_with_secrets_reads_back_as_the_same_credential() -> None:
    credential = Credential(
        AuthMethod.IDC,
        refresh_token=REFRESH_ONE,
        client_id="cid",
        client_secret=CLIENT_SECRET,
        expires_at=datetime(2026, 1, 2, tzinfo=UTC),
        email="a@b.test",
        priority=2,
        region="us-west-2",
        id=4,
    )
    entry = export_entry(credential, disabled_reason=None, secrets=True)
    (item,) = parse_import(json.dumps({"credentials": [entry]}).encode(), "application/json")
    again = item.credential
    assert again is not None
    assert again.fingerprint() == credential.fingerprint()
    same = (
        "auth_method",
        "client_id",
        "client_secret",
        "expires_at",
        "email",
        "priority",
        "region",
    )
    assert [getattr(again, name) for name in same] == [getattr(credential, name) for name in same]
    assert again.id is None and not again.disabled
    assert again.extra == {}


# ---------------------------------------------------------------- kiro-cli's SQLite store


def kiro_cli_db(tmp_path: Path, rows: dict[str, str], *, table: str = "auth_kv") -> bytes:
    """A kiro-cli ``data.sqlite3`` holding ``rows`` in its ``auth_kv`` table."""
    path = tmp_path / "data.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(f"CREATE TABLE {table} (key TEXT PRIMARY KEY, value TEXT)")
        db.executemany(f"INSERT INTO {table} VALUES (?, ?)", rows.items())
        db.commit()
    return path.read_bytes()


def test_a_kiro_cli_database_gives_its_current_login(tmp_path: Path) -> None:
    social = {"access_token": "aoa-cli-" + "x" * 40, "refresh_token": REFRESH_ONE,
              "expires_at": "2026-01-02T03:04:05.123456789Z", "region": "us-east-1"}  # fmt: skip
    idc = {"refresh_token": REFRESH_TWO, "region": "eu-west-1", "oauth_flow": "DeviceCode"}
    registration = {"client_id": "cli-client", "client_secret": CLIENT_SECRET}
    raw = kiro_cli_db(
        tmp_path,
        {
            "kirocli:social:token": json.dumps(social),
            "codewhisperer:odic:token": json.dumps(idc),
            "codewhisperer:odic:device-registration": json.dumps(registration),
            "kirocli:other": "ignored",
        },
    )
    # The social login comes first, as the kiro-cli source reads it (one current login).
    (item,) = parse_import(raw, "application/octet-stream")
    first = item.credential
    assert first is not None
    assert (first.auth_method, first.refresh_token, first.auth_region) == (
        AuthMethod.SOCIAL,
        REFRESH_ONE,
        "us-east-1",
    )
    assert first.expires_at == datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)  # to the ms


def test_a_kiro_cli_idc_login_brings_its_client_registration(tmp_path: Path) -> None:
    idc = {"refresh_token": REFRESH_TWO, "region": "eu-west-1", "oauth_flow": "DeviceCode"}
    registration = {"client_id": "cli-client", "client_secret": CLIENT_SECRET}
    raw = kiro_cli_db(
        tmp_path,
        {
            "codewhisperer:odic:token": json.dumps(idc),
            "codewhisperer:odic:device-registration": json.dumps(registration),
        },
    )
    (item,) = parse_import(raw, "application/octet-stream")
    second = item.credential
    assert second is not None
    assert (second.auth_method, second.client_id, second.client_secret) == (
        AuthMethod.IDC,
        "cli-client",
        CLIENT_SECRET,
    )


def test_a_kiro_cli_idc_token_without_its_registration_is_invalid(tmp_path: Path) -> None:
    raw = kiro_cli_db(tmp_path, {"kirocli:odic:token": json.dumps({"refresh_token": REFRESH_ONE})})
    with pytest.raises(InvalidRequest) as caught:
        parse_import(raw, "")
    assert "client registration" in caught.value.message
    assert caught.value.param == "body"


@pytest.mark.parametrize(
    ("rows", "table"),
    [({"kirocli:social:token": "{}"}, "other_table"), ({"unrelated": "1"}, "auth_kv")],
)
def test_a_sqlite_file_without_kiro_cli_tokens_is_a_400(
    tmp_path: Path, rows: dict[str, str], table: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_import(kiro_cli_db(tmp_path, rows, table=table), "application/octet-stream")
    assert raised.value.param == "body"


def test_a_broken_sqlite_file_is_a_400() -> None:
    with pytest.raises(InvalidRequest, match="not a usable kiro-cli token store"):
        parse_import(b"SQLite format 3\x00" + b"\x00" * 50, "application/octet-stream")
