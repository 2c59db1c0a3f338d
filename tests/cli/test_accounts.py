"""``kirogate accounts ...`` on a temporary SQLite store; verify and balance against the emulator."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest

from tests.cli.conftest import REFRESH_TOKEN, Cli, Emulator, kiro_rs_credentials, write_json

CLIENT_SECRET = "client-secret-" + "s" * 40


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def token() -> str:
    return REFRESH_TOKEN + uuid.uuid4().hex


def rows(cli: Cli, data: Path) -> list[dict[str, object]]:
    result = cli("accounts", "list", "--json", "--data-dir", data)
    assert result.code == 0, result.err
    listed: list[dict[str, object]] = json.loads(result.out)
    return listed


def test_list_of_an_empty_store_says_how_to_add_one(cli: Cli, data: Path) -> None:
    result = cli("accounts", "list", "--data-dir", data)
    assert result.code == 0
    assert "no credentials in the store" in result.out and "kirogate login" in result.out
    assert (data / "kirogate.db").stat().st_mode & 0o777 == 0o600


def test_add_lists_the_credential_with_its_token_masked(cli: Cli, data: Path) -> None:
    secret = token()
    added = cli("accounts", "add", "--refresh-token", secret, "--email", "a@example.com",
                "--priority", "3", "--data-dir", data)  # fmt: skip
    assert added.code == 0, added.err
    assert "added credential #1 (social, token aorA…" in added.out
    table = cli("accounts", "list", "--data-dir", data)
    assert "a@example.com" in table.out and "active" in table.out
    (row,) = rows(cli, data)
    assert row["email"] == "a@example.com" and row["priority"] == 3
    assert row["refreshToken"] == f"{secret[:4]}…{secret[-4:]}"
    assert secret not in added.out + table.out + json.dumps(row)


def test_add_reads_the_token_from_stdin_and_skips_a_duplicate(
    cli: Cli, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = token()
    monkeypatch.setattr("sys.stdin", io.StringIO(secret + "\n"))
    assert cli("accounts", "add", "--refresh-token", "-", "--data-dir", data).code == 0
    again = cli("accounts", "add", "--refresh-token", secret, "--data-dir", data, "--json")
    assert json.loads(again.out) == {"id": 1, "created": False, "label": "#1"}


def test_add_idc_without_client_secret_names_the_flag(cli: Cli, data: Path) -> None:
    result = cli("accounts", "add", "--refresh-token", token(), "--auth-method", "idc",
                 "--client-id", "cid", "--data-dir", data)  # fmt: skip
    assert result.code == 2
    assert "accounts add: field '--client-secret': required for IdC" in result.err


def test_add_with_a_line_break_in_the_api_key_names_the_flag(cli: Cli, data: Path) -> None:
    result = cli("accounts", "add", "--kiro-api-key", "ksk_abc\r\nX-Injected: 1",
                 "--data-dir", data)  # fmt: skip
    assert result.code == 2
    assert "field '--kiro-api-key'" in result.err
    assert "ksk_abc" not in result.err + result.out


def test_import_reads_every_source_format_and_dedupes(cli: Cli, data: Path, tmp_path: Path) -> None:
    shared = token()
    kiro_rs = kiro_rs_credentials(tmp_path / "credentials.json", shared, token())
    ide = write_json(tmp_path / "kiro-auth-token.json", {
        "accessToken": "aoa-access", "refreshToken": token(), "expiresAt": "2030-01-01T00:00:00.000Z",
        "authMethod": "social", "provider": "Google"})  # fmt: skip
    kiro2api = write_json(tmp_path / "kiro2api.json", [
        {"auth": "IdC", "refreshToken": token(), "clientId": "cid", "clientSecret": CLIENT_SECRET},
        {"auth": "Social", "refreshToken": shared}])  # fmt: skip
    result = cli("accounts", "import", kiro_rs, ide, kiro2api, "--data-dir", data)
    assert result.code == 0, result.err
    assert "imported 4 of 5 credentials, 1 already stored" in result.out
    methods = sorted(str(row["authMethod"]) for row in rows(cli, data))
    assert methods == ["idc", "social", "social", "social"]
    again = json.loads(cli("accounts", "import", kiro_rs, "--data-dir", data, "--json").out)
    assert again == {"found": 2, "added": [], "updated": [], "already": [1, 2], "merged": []}


def test_import_from_env(cli: Cli, data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFRESH_TOKEN", token())
    result = cli("accounts", "import", "--from-env", "--data-dir", data)
    assert "imported 1 of 1 credentials" in result.out
    assert rows(cli, data)[0]["source"] == "store"


@pytest.mark.parametrize("priority", ["-1", str(2**31)])
def test_add_rejects_a_priority_the_store_cannot_hold(cli: Cli, data: Path, priority: str) -> None:
    result = cli("accounts", "add", "--refresh-token", token(), "--priority", priority,
                 "--data-dir", data)  # fmt: skip
    assert result.code == 2, result.out
    assert "priority" in result.err and "Traceback" not in result.err
    assert rows(cli, data) == []


def test_import_of_a_bad_file_names_it_and_exits_2(cli: Cli, data: Path, tmp_path: Path) -> None:
    missing = cli("accounts", "import", tmp_path / "nope.json", "--data-dir", data)
    assert missing.code == 2 and f"{tmp_path / 'nope.json'}: file not found" in missing.err
    truncated = write_json(
        tmp_path / "t.json", {"refreshToken": "aorAAAA...", "authMethod": "social"}
    )
    result = cli("accounts", "import", truncated, "--data-dir", data)
    assert result.code == 2 and "field 'refreshToken': looks truncated" in result.err
    assert cli("accounts", "import", "--data-dir", data).code == 2


def test_export_writes_a_0600_kiro_rs_file_that_imports_back(
    cli: Cli, data: Path, tmp_path: Path
) -> None:
    secret = token()
    cli("accounts", "add", "--refresh-token", secret, "--auth-method", "idc", "--client-id", "cid",
        "--client-secret", CLIENT_SECRET, "--region", "eu-west-1", "--data-dir", data)  # fmt: skip
    out = tmp_path / "export.json"
    result = cli("accounts", "export", out, "--data-dir", data)
    assert result.code == 0
    assert "holds refresh tokens and client secrets" in result.out
    assert out.stat().st_mode & 0o777 == 0o600
    (entry,) = json.loads(out.read_text())
    assert (entry["refreshToken"], entry["clientSecret"]) == (secret, CLIENT_SECRET)
    assert (entry["authMethod"], entry["region"], entry["id"]) == ("idc", "eu-west-1", 1)
    assert cli("accounts", "export", out, "--data-dir", data).code == 1  # exists, no --force
    other = tmp_path / "other-data"
    assert "imported 1 of 1" in cli("accounts", "import", out, "--data-dir", other).out


def test_export_redacted_to_stdout_masks_every_secret(cli: Cli, data: Path) -> None:
    secret = token()
    cli("accounts", "add", "--refresh-token", secret, "--auth-method", "idc", "--client-id", "cid",
        "--client-secret", CLIENT_SECRET, "--data-dir", data)  # fmt: skip
    result = cli("accounts", "export", "-", "--redact", "--data-dir", data)
    (entry,) = json.loads(result.out)
    assert entry["refreshToken"] == f"{secret[:4]}…{secret[-4:]}"
    assert secret not in result.out and CLIENT_SECRET not in result.out
    assert "cannot log in" in result.err


def test_disable_enable_and_remove(cli: Cli, data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli("accounts", "add", "--refresh-token", token(), "--data-dir", data)
    disabled = cli("accounts", "disable", "1", "--reason", "holiday", "--data-dir", data)
    assert disabled.code == 0 and "credential #1 (#1) is disabled" in disabled.out
    (row,) = rows(cli, data)
    assert row["state"] == "disabled (manual: holiday)" and row["disabledReason"] == "manual"
    assert cli("accounts", "enable", "1", "--data-dir", data).code == 0
    assert rows(cli, data)[0]["state"] == "active"
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    refused = cli("accounts", "remove", "1", "--data-dir", data)
    assert refused.code == 2 and "pass --yes (-y) to confirm" in refused.err
    assert len(rows(cli, data)) == 1
    removed = cli("accounts", "remove", "1", "--yes", "--data-dir", data)
    assert removed.code == 0 and "deleted credential #1" in removed.out
    assert rows(cli, data) == []
    unknown = cli("accounts", "remove", "9", "-y", "--data-dir", data)
    assert unknown.code == 1 and "9" in unknown.err
    assert cli("accounts", "enable", "9", "--data-dir", data).code == 1


def test_verify_refreshes_saves_and_disables_rejected_tokens(
    cli: Cli, data: Path, emulator: Emulator
) -> None:
    good, bad = token(), token()
    cli("accounts", "add", "--refresh-token", good, "--data-dir", data)
    cli("accounts", "add", "--refresh-token", bad, "--data-dir", data)
    emulator.post("/_emulator/credentials", {"refreshToken": bad})
    emulator.post("/_emulator/revoke", {"refreshToken": bad})
    result = cli("accounts", "verify", "--upstream-url", emulator.url, "--data-dir", data)
    assert result.code == 1
    assert "✓ #1: refreshed, valid until" in result.out
    assert "✗ #2: refresh token rejected, disabled" in result.out
    assert "verified: 1 ok, 1 failed" in result.out
    first, second = rows(cli, data)
    assert first["expiresAt"] is not None and first["state"] == "active"
    assert str(second["state"]).startswith("disabled (invalid_refresh_token")
    # The refreshed (rotated) tokens were saved: a second verify still works.
    again = cli("accounts", "verify", "1", "--json", "--upstream-url", emulator.url,
                "--data-dir", data)  # fmt: skip
    assert again.code == 0 and json.loads(again.out)[0]["ok"] is True
    assert cli("accounts", "verify", "7", "--data-dir", data).code == 1


def test_balance_shows_usage_from_the_upstream(cli: Cli, data: Path, emulator: Emulator) -> None:
    cli("accounts", "add", "--refresh-token", token(), "--data-dir", data)
    table = cli("accounts", "balance", "--upstream-url", emulator.url, "--data-dir", data)
    assert table.code == 0, table.out + table.err
    assert "plan" in table.out and "remaining" in table.out
    (entry,) = json.loads(cli("accounts", "balance", "--json", "--upstream-url", emulator.url,
                              "--data-dir", data).out)  # fmt: skip
    assert entry["ok"] is True and entry["usageLimit"] > 0 and entry["id"] == 1
    assert entry["remaining"] == entry["usageLimit"] - entry["currentUsage"]


def test_import_of_the_ide_token_file_after_a_rotation_keeps_one_row(
    cli: Cli, data: Path, tmp_path: Path
) -> None:
    ide = tmp_path / "kiro-auth-token.json"
    entry = {"accessToken": "aoa-access", "refreshToken": token(),
             "expiresAt": "2030-01-01T00:00:00.000Z", "authMethod": "social", "provider": "Google"}  # fmt: skip
    write_json(ide, entry)
    assert cli("accounts", "import", ide, "--data-dir", data).code == 0
    rotated = {**entry, "refreshToken": token(), "expiresAt": "2030-01-01T01:00:00.000Z"}
    write_json(ide, rotated)
    result = cli("accounts", "import", ide, "--data-dir", data, "--json")
    assert json.loads(result.out)["updated"] == [1]
    (row,) = rows(cli, data)
    assert row["id"] == 1 and row["source"] == str(ide)
    assert row["refreshToken"] == f"{rotated['refreshToken'][:4]}…{rotated['refreshToken'][-4:]}"


def test_list_shows_the_email_balance_learned(cli: Cli, data: Path, emulator: Emulator) -> None:
    cli("accounts", "add", "--refresh-token", token(), "--data-dir", data)
    assert cli("accounts", "balance", "--upstream-url", emulator.url, "--data-dir", data).code == 0
    (row,) = rows(cli, data)
    assert str(row["email"]).endswith("@example.com") and row["label"] == row["email"]
    table = cli("accounts", "list", "--data-dir", data)
    assert str(row["email"]) in table.out


def test_verify_writes_a_rotated_token_back_to_the_linked_ide_file(
    cli: Cli, data: Path, tmp_path: Path, emulator: Emulator
) -> None:
    ide = write_json(tmp_path / "kiro-auth-token.json", {
        "refreshToken": token(), "authMethod": "social", "provider": "Google"})  # fmt: skip
    cli("accounts", "import", ide, "--data-dir", data)
    result = cli("accounts", "verify", "--upstream-url", emulator.url, "--data-dir", data)
    assert result.code == 0, result.out + result.err
    (row,) = rows(cli, data)
    saved = json.loads(ide.read_text(encoding="utf-8"))["refreshToken"]
    assert row["refreshToken"] == f"{saved[:4]}…{saved[-4:]}"


def test_list_without_a_known_email_says_how_to_learn_it(cli: Cli, data: Path) -> None:
    cli("accounts", "add", "--refresh-token", token(), "--data-dir", data)
    table = cli("accounts", "list", "--data-dir", data)
    assert "#1" not in table.out
    assert "`kirogate accounts balance`" in table.out
