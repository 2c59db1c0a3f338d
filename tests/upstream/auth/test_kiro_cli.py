"""The kiro-cli / Amazon Q CLI token database as a credential source: read-only, every key
layout the CLIs write, and errors naming the file, the key and the field."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kirogate.errors import CredentialSourceError
from kirogate.settings import load_settings
from kirogate.upstream.auth import kiro_cli
from kirogate.upstream.auth.kiro_cli import load_kiro_cli_db
from kirogate.upstream.auth.sources import discover_credentials
from kirogate.upstream.auth.writeback import write_back
from kirogate.upstream.credentials import AuthMethod

REFRESH = "aorAAAA-kiro-cli-refresh-" + "c" * 100
ACCESS = "aoaAAAA-kiro-cli-access-" + "a" * 60
SECRET = "kiro-cli-client-secret-" + "s" * 30


def make_db(path: Path, rows: dict[str, Any], *, wal: bool = False) -> Path:
    """A CLI database: ``auth_kv`` with ``rows`` (JSON-encoded unless already a string),
    plus an unrelated table, as the CLI has many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    try:
        if wal:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE auth_kv (key TEXT PRIMARY KEY, value TEXT)")
        conn.execute("CREATE TABLE state (key TEXT PRIMARY KEY, value BLOB)")
        for key, value in rows.items():
            text = value if isinstance(value, str) else json.dumps(value)
            conn.execute("INSERT INTO auth_kv VALUES (?, ?)", (key, text))
        conn.commit()
    finally:
        conn.close()
    return path


def social_token(**extra: Any) -> dict[str, Any]:
    return {
        "access_token": ACCESS,
        "refresh_token": REFRESH,
        "expires_at": "2026-12-07T05:00:00.123456Z",
        "region": "us-east-1",
        "profile_arn": "arn:aws:codewhisperer:us-east-1:123:profile/CLI",
        **extra,
    }


def odic_token(**extra: Any) -> dict[str, Any]:
    token = social_token(**extra)
    token.pop("profile_arn")
    token["region"] = "eu-central-1"
    token["scopes"] = ["codewhisperer:completions"]
    token["start_url"] = "https://view.awsapps.com/start"
    return token


REGISTRATION = {"client_id": "cli-client-id", "client_secret": SECRET, "region": "eu-west-1"}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_social_login_is_a_social_credential(tmp_path: Path) -> None:
    db = make_db(tmp_path / "data.sqlite3", {"kirocli:social:token": social_token()})
    (credential,) = load_kiro_cli_db(db)
    assert credential.auth_method is AuthMethod.SOCIAL
    assert credential.refresh_token == REFRESH
    assert credential.access_token == ACCESS
    assert credential.expires_at == datetime(2026, 12, 7, 5, 0, 0, 123456, tzinfo=UTC)
    assert credential.profile_arn == "arn:aws:codewhisperer:us-east-1:123:profile/CLI"
    assert credential.auth_region == "us-east-1"
    assert credential.region is None  # the API's region stays the gateway's
    assert credential.client_id is None
    assert credential.origin is not None
    assert (credential.origin.kind, credential.origin.path) == ("kiro-cli", db)
    assert credential.extra == {"kiroCliKey": "kirocli:social:token"}


@pytest.mark.parametrize(
    ("token_key", "registration_key"),
    [
        ("kirocli:odic:token", "kirocli:odic:device-registration"),
        ("codewhisperer:odic:token", "codewhisperer:odic:device-registration"),
        ("kirocli:odic:token", "codewhisperer:odic:device-registration"),
    ],
)
def test_an_oidc_login_is_an_idc_credential_with_its_registration(
    tmp_path: Path, token_key: str, registration_key: str
) -> None:
    db = make_db(
        tmp_path / "data.sqlite3", {token_key: odic_token(), registration_key: REGISTRATION}
    )
    (credential,) = load_kiro_cli_db(db)
    assert credential.auth_method is AuthMethod.IDC
    assert (credential.client_id, credential.client_secret) == ("cli-client-id", SECRET)
    assert credential.auth_region == "eu-central-1"  # the token's region wins
    assert credential.profile_arn is None


def test_the_registrations_region_is_used_when_the_token_has_none(tmp_path: Path) -> None:
    token = odic_token()
    del token["region"]
    db = make_db(
        tmp_path / "d.sqlite3",
        {"kirocli:odic:token": token, "kirocli:odic:device-registration": REGISTRATION},
    )
    assert load_kiro_cli_db(db)[0].auth_region == "eu-west-1"


def test_the_social_login_comes_first(tmp_path: Path) -> None:
    db = make_db(
        tmp_path / "d.sqlite3",
        {
            "codewhisperer:odic:token": odic_token(),
            "codewhisperer:odic:device-registration": REGISTRATION,
            "kirocli:social:token": social_token(),
        },
    )
    (credential,) = load_kiro_cli_db(db)
    assert credential.auth_method is AuthMethod.SOCIAL


def test_a_logged_out_cli_holds_no_credential(tmp_path: Path) -> None:
    db = make_db(tmp_path / "d.sqlite3", {"kirocli:odic:device-registration": REGISTRATION})
    assert load_kiro_cli_db(db) == []


def test_epoch_expiry_is_read(tmp_path: Path) -> None:
    db = make_db(
        tmp_path / "d.sqlite3", {"kirocli:social:token": social_token(expires_at=1796619600)}
    )
    assert load_kiro_cli_db(db)[0].expires_at == datetime.fromtimestamp(1796619600, UTC)


def test_the_file_is_never_written(tmp_path: Path) -> None:
    for wal in (False, True):
        db = make_db(
            tmp_path / f"wal-{wal}" / "data.sqlite3",
            {"kirocli:social:token": social_token()},
            wal=wal,
        )
        before, mtime = digest(db), db.stat().st_mtime_ns
        load_kiro_cli_db(db)
        assert (digest(db), db.stat().st_mtime_ns) == (before, mtime)
        if not wal:
            assert sorted(p.name for p in db.parent.iterdir()) == ["data.sqlite3"]
        # A refreshed credential is never written back into the CLI's file.
        (credential,) = load_kiro_cli_db(db)
        credential.access_token = "aoaAAAA-new-" + "n" * 60
        assert write_back(credential) is False
        assert digest(db) == before


def test_a_read_only_open_that_cannot_start_falls_back_to_immutable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = make_db(tmp_path / "d.sqlite3", {"kirocli:social:token": social_token()}, wal=True)
    real = sqlite3.connect
    uris: list[str] = []

    def connect(database: str, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        uris.append(database)
        if "immutable" not in database:
            raise sqlite3.OperationalError("unable to open database file")
        return real(database, *args, **kwargs)

    monkeypatch.setattr(kiro_cli.sqlite3, "connect", connect)
    assert load_kiro_cli_db(db)[0].refresh_token == REFRESH
    assert uris[0].endswith("?mode=ro") and uris[-1].endswith("?mode=ro&immutable=1")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ({"kirocli:social:token": "{not json"}, "auth_kv[kirocli:social:token]: invalid JSON"),
        ({"kirocli:social:token": "[1]"}, "expected a JSON object"),
        ({"kirocli:social:token": {"access_token": ACCESS}}, "field 'refresh_token'"),
        ({"kirocli:social:token": social_token(refresh_token=5)}, "field 'refresh_token'"),
        ({"kirocli:social:token": social_token(expires_at="soon")}, "field 'expires_at'"),
        ({"kirocli:odic:token": odic_token()}, "field 'client_id'"),
        (
            {
                "kirocli:odic:token": odic_token(),
                "kirocli:odic:device-registration": {"client_id": "x"},
            },
            "field 'client_secret'",
        ),
    ],
)
def test_bad_values_name_the_key_and_the_field(
    tmp_path: Path, rows: dict[str, Any], message: str
) -> None:
    db = make_db(tmp_path / "d.sqlite3", rows)
    with pytest.raises(CredentialSourceError) as caught:
        load_kiro_cli_db(db)
    assert message in str(caught.value)
    assert str(db) in str(caught.value)
    assert SECRET not in str(caught.value) and ACCESS not in str(caught.value)


def test_files_that_are_not_the_clis_database(tmp_path: Path) -> None:
    with pytest.raises(CredentialSourceError, match="file not found"):
        load_kiro_cli_db(tmp_path / "missing.sqlite3")
    with pytest.raises(CredentialSourceError, match="is not a file"):
        load_kiro_cli_db(tmp_path)
    text = tmp_path / "text.sqlite3"
    text.write_text("hello, I am not a database" * 100)
    with pytest.raises(CredentialSourceError, match="not a SQLite database"):
        load_kiro_cli_db(text)
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(CredentialSourceError, match="no auth_kv table"):
        load_kiro_cli_db(other)


def test_discovery_reads_a_configured_database(tmp_path: Path) -> None:
    db = make_db(tmp_path / "cli.sqlite3", {"kirocli:social:token": social_token()})
    result = discover_credentials([], [], {"HOME": str(tmp_path)}, kiro_cli_dbs=[db])
    (credential,) = result.credentials
    assert credential.refresh_token == REFRESH and credential.id == 1
    assert any(str(db) in line for line in result.looked_at)


@pytest.mark.parametrize("cli", ["kiro-cli", "amazon-q"])
def test_discovery_falls_back_to_the_clis_default_file(tmp_path: Path, cli: str) -> None:
    db = make_db(
        tmp_path / ".local" / "share" / cli / "data.sqlite3",
        {"kirocli:social:token": social_token()},
    )
    result = discover_credentials([], [], {"HOME": str(tmp_path)})
    assert [c.origin.path for c in result.credentials if c.origin] == [db]
    # Configured sources come first: then the default file is not read.
    other = make_db(tmp_path / "x.sqlite3", {})
    assert (
        discover_credentials([], [], {"HOME": str(tmp_path)}, kiro_cli_dbs=[other]).credentials
        == []
    )


def test_the_setting_comes_from_flag_env_or_file(tmp_path: Path) -> None:
    env = load_settings({"KIROGATE_KIRO_CLI_DB": str(tmp_path / "a.sqlite3")}, {})
    assert env.kiro_cli_dbs == (tmp_path / "a.sqlite3",)
    assert tmp_path / "a.sqlite3" in env.source_files


async def test_a_persistent_gateway_imports_the_clis_login_and_keeps_its_refreshes(
    tmp_path: Path,
) -> None:
    from kirogate.service import Gateway

    db = make_db(tmp_path / "cli" / "data.sqlite3", {"kirocli:social:token": social_token()})
    before = digest(db)
    settings = load_settings({}, {"data_dir": tmp_path / "data", "kiro_cli_dbs": (db,)})
    found = discover_credentials([], [], {"HOME": str(tmp_path)}, kiro_cli_dbs=[db])
    gateway = Gateway(settings, found.credentials, persistent=True)
    await gateway.start()
    try:
        (credential,) = gateway.pool.credentials()
        assert credential.refresh_token == REFRESH
        assert credential.origin is not None and credential.origin.kind == "kiro-cli"
        credential.access_token = "aoaAAAA-refreshed-" + "r" * 60
        await gateway.operations.write_back(credential)  # to the store only
        stored = await gateway.operations.stored_credential(credential.id or 0)
        assert stored.access_token == credential.access_token
    finally:
        await gateway.close()
    assert digest(db) == before
