"""``kirogate keys ...`` on a temporary SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Cli


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def rows(cli: Cli, data: Path) -> list[dict[str, object]]:
    result = cli("keys", "list", "--json", "--data-dir", data)
    assert result.code == 0, result.err
    listed: list[dict[str, object]] = json.loads(result.out)
    return listed


def test_list_of_no_keys_says_how_to_create_one(cli: Cli, data: Path) -> None:
    result = cli("keys", "list", "--data-dir", data)
    assert result.code == 0 and "kirogate keys create" in result.out


def test_a_key_bound_to_an_unknown_group_is_refused(cli: Cli, data: Path) -> None:
    refused = cli("keys", "create", "bob", "--group", "team-a", "--data-dir", data)
    assert refused.code != 0 and "no credential group 'team-a'" in refused.err


def test_create_prints_the_key_once_and_lists_its_prefix_and_limits(cli: Cli, data: Path) -> None:
    created = cli("keys", "create", "alice", "--rpm", "30", "--tokens-per-day", "1000",
                  "--models", "claude-haiku-*, gpt-4o",
                  "--expires", "2099-01-01T00:00:00", "--data-dir", data)  # fmt: skip
    assert created.code == 0, created.err
    key = created.out.strip().splitlines()[-1]
    assert key.startswith("kg-")
    (row,) = rows(cli, data)
    assert row["name"] == "alice" and row["state"] == "active" and row["group"] is None
    assert row["limits"] == {
        "rpm": 30,
        "requests_per_day": None,
        "tokens_per_day": 1000,
        "tokens_per_month": None,
        "max_concurrency": None,
        "models": ["claude-haiku-*", "gpt-4o"],
    }
    table = cli("keys", "list", "--data-dir", data)
    assert "alice" in table.out and "rpm=30" in table.out and key not in table.out
    as_json = cli("keys", "create", "bob", "--json", "--data-dir", data)
    assert json.loads(as_json.out)["key"].startswith("kg-")


def test_limits_disable_enable_regenerate_and_revoke(cli: Cli, data: Path) -> None:
    assert cli("keys", "create", "ci", "--data-dir", data).code == 0
    assert cli("keys", "limits", "1", "--max-concurrency", "2", "--data-dir", data).code == 0
    assert rows(cli, data)[0]["limits"]["max_concurrency"] == 2  # type: ignore[index]
    assert "no limits" in cli("keys", "limits", "1", "--data-dir", data).out
    assert cli("keys", "disable", "1", "--data-dir", data).code == 0
    assert rows(cli, data)[0]["state"] == "disabled"
    assert cli("keys", "enable", "1", "--data-dir", data).code == 0
    assert rows(cli, data)[0]["state"] == "active"
    regenerated = cli("keys", "regenerate", "1", "--data-dir", data)
    assert regenerated.code == 0 and regenerated.out.strip().splitlines()[-1].startswith("kg-")
    assert "revoked" in cli("keys", "revoke", "1", "--data-dir", data).out
    assert rows(cli, data)[0]["state"] == "revoked"


def test_bad_input_names_the_field_and_exits_non_zero(cli: Cli, data: Path) -> None:
    bad = cli("keys", "create", "x", "--rpm", "0", "--data-dir", data)
    assert bad.code != 0 and "limits.rpm" in bad.err
    missing = cli("keys", "disable", "9", "--data-dir", data)
    assert missing.code != 0 and "9" in missing.err
