"""``kirogate config show|check`` and ``kirogate doctor``."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Mapping
from pathlib import Path

import pytest

from kirogate.settings import Settings
from tests.cli.conftest import Cli

ADMIN = "sk-admin-very-secret-admin-key-123"
CLIENT = "sk-client-very-secret-client-key-456"


def test_config_show_prints_value_and_origin_with_secrets_masked(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[server]\nadmin_key = '{ADMIN}'\nport = 9100\n", encoding="utf-8")
    monkeypatch.setenv("API_KEY", CLIENT)
    monkeypatch.setenv("KIROGATE_DATABASE_URL", "postgresql://kg:hunter2pass@db/kg")
    result = cli("config", "show", "--config", config, "--set", "pool.mode=balanced")
    assert result.code == 0
    out = result.out
    assert "server.port" in out and "9100" in out and f"file {config} (server.port)" in out
    assert "env API_KEY" in out
    assert "flag --set pool.mode" in out
    assert "sk-a…-123" in out and "sk-c…-456" in out
    assert "postgresql://kg:***@db/kg" in out
    for secret in (ADMIN, CLIENT, "hunter2pass"):
        assert secret not in out + result.err


def test_config_show_json_has_every_setting_with_origin(cli: Cli) -> None:
    result = cli("config", "show", "--json", "--data-dir", "/srv/kg")
    data = json.loads(result.out)
    assert data["settings"]["data_dir"] == {
        "value": "/srv/kg",
        "origin": "flag --data-dir",
        "env": ["KIROGATE_DATA_DIR", "DATA_DIR"],
    }
    assert data["settings"]["server.port"]["origin"] == "default"
    assert data["settings"]["pool.affinity.ttl"]["env"][-1] == "SESSION_POOL_TTL"
    assert data["config_file"] is None


def test_config_show_lists_the_notes_of_a_kiro_rs_file(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"port": 8990, "tlsBackend": "native-tls"}), encoding="utf-8")
    result = cli("config", "show", "--config", config)
    assert result.code == 0
    assert "'tlsBackend' is ignored" in result.out + result.err


def test_config_check_accepts_a_valid_file(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "kg.toml"
    config.write_text("log_level = 'debug'\n[pool]\nmode = 'weighted'\n", encoding="utf-8")
    result = cli("config", "check", config)
    assert result.code == 0
    assert f"{config} is a valid toml config (2 settings)" in result.out
    assert "pool.mode = weighted" in result.out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[server]\nprot = 1\n", "key 'server.prot': unknown key; did you mean 'port'?"),
        ("[server]\nport = 0\n", "key 'server.port': 0 is too small (allowed: a whole number"),
        ("log_format = 'yaml'\n", "key 'log_format': 'yaml' is not a valid choice (allowed: text or json)"),
    ],
)  # fmt: skip
def test_config_check_rejects_with_file_key_and_allowed_and_exit_2(
    cli: Cli, tmp_path: Path, text: str, expected: str
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text, encoding="utf-8")
    result = cli("config", "check", config)
    assert result.code == 2
    assert f"{config}: {expected}" in result.err


def test_config_check_ignores_the_environment(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "ok.toml"
    config.write_text("workers = 2\n", encoding="utf-8")
    monkeypatch.setenv("PORT", "not-a-port")
    assert cli("config", "check", config).code == 0


def test_config_check_without_a_file_says_there_is_none(cli: Cli, tmp_path: Path) -> None:
    result = cli("config", "check", "--data-dir", tmp_path / "empty")
    assert result.code == 0
    assert "no config file" in result.out


def test_config_check_finds_the_default_file_in_the_data_dir(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[server]\nport = 99999\n", encoding="utf-8")
    result = cli("config", "check", "--data-dir", tmp_path)
    assert result.code == 2
    assert "key 'server.port': 99999 is too large" in result.err


def test_a_bad_env_value_stops_any_command_with_exit_2(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIROGATE_LOG_LEVEL", "chatty")
    result = cli("config", "show")
    assert result.code == 2
    assert "env KIROGATE_LOG_LEVEL: 'chatty' is not a valid choice" in result.err


def test_doctor_runs_the_doctor_with_the_effective_settings(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, object] = {}

    def run_doctor(settings: Settings, environ: Mapping[str, str], *, json_output: bool) -> int:
        seen.update(port=settings.server.port, url=settings.upstream.url, json=json_output)
        seen["environ"] = environ
        return 1

    fake = types.ModuleType("kirogate.doctor")
    fake.run_doctor = run_doctor  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kirogate.doctor", fake)
    result = cli("doctor", "--port", "9123", "--upstream-url", "http://127.0.0.1:1", "--json")
    assert result.code == 1
    assert seen["port"] == 9123
    assert seen["url"] == "http://127.0.0.1:1"
    assert seen["json"] is True
    assert "HOME" in seen["environ"]  # type: ignore[operator]


def test_config_show_names_the_generated_client_key_file_with_the_key_masked(
    cli: Cli, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    key = "kg-" + "k" * 32
    (data / "api_key").write_text(key + "\n", encoding="utf-8")
    result = cli("config", "show", "--json", "--data-dir", data)
    shown = json.loads(result.out)["settings"]["server.api_keys"]
    assert shown["value"] == ["kg-k…kkkk"]
    assert shown["origin"] == f"generated, kept in {data / 'api_key'}"
    table = cli("config", "show", "--data-dir", data)
    assert "generated, kept in" in table.out
    assert key not in table.out + result.out


def test_config_show_says_where_the_client_key_will_be_generated(cli: Cli, home: Path) -> None:
    result = cli("config", "show", "--json")
    shown = json.loads(result.out)["settings"]["server.api_keys"]
    assert shown["value"] == []
    assert shown["origin"] == "generated by the first `kirogate serve`, kept in ~/.kirogate/api_key"


def test_config_show_keeps_a_given_client_key_origin(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "api_key").write_text("kg-generated-key-0000\n", encoding="utf-8")
    monkeypatch.setenv("KIROGATE_API_KEY", CLIENT)
    result = cli("config", "show", "--json", "--data-dir", tmp_path)
    assert json.loads(result.out)["settings"]["server.api_keys"]["origin"] == "env KIROGATE_API_KEY"


def test_config_check_reports_every_error_of_a_file(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        "log_format = 'yaml'\n[server]\nprot = 1\nport = 0\n[pool]\nmode = 'x'\n[nope]\n",
        encoding="utf-8",
    )
    result = cli("config", "check", config)
    assert result.code == 2
    assert f"{config} has 5 errors" in result.err
    for expected in ("key 'server.prot': unknown key", "key 'server.port': 0 is too small",
                     "key 'log_format': 'yaml'", "key 'pool.mode': 'x'", "key 'nope': unknown key"):  # fmt: skip
        assert f"{config}: {expected}" in result.err


def test_config_check_json_lists_every_error(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"port": "x", "prot": 1, "apiKeys": 3}), encoding="utf-8")
    result = cli("config", "check", config, "--json")
    assert result.code == 2
    report = json.loads(result.out)
    assert report["valid"] is False
    assert len(report["errors"]) == 3


def test_config_check_reports_a_syntax_error_alone(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("[server\nport = 1\n", encoding="utf-8")
    result = cli("config", "check", config)
    assert result.code == 2
    assert "invalid TOML" in result.err and "has 1 error\n" in result.err


def test_config_init_writes_a_private_commented_starter_that_checks_clean(
    cli: Cli, home: Path
) -> None:
    result = cli("config", "init")
    assert result.code == 0, result.err
    path = home / ".kirogate" / "config.toml"
    assert f"wrote {path} (mode 0600)" in result.out
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text(encoding="utf-8")
    assert "# port = 8990" in text and '# mode = "priority"' in text
    assert "KIROGATE_UPSTREAM_URL" in text
    checked = cli("config", "check")
    assert checked.code == 0 and "is a valid toml config (0 settings)" in checked.out


def test_config_init_refuses_to_overwrite_without_force(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "kg.toml"
    path.write_text("workers = 2\n", encoding="utf-8")
    refused = cli("config", "init", path)
    assert refused.code == 2 and "pass --force to replace it" in refused.err
    assert path.read_text(encoding="utf-8") == "workers = 2\n"
    path.chmod(0o644)
    assert cli("config", "init", path, "--force").code == 0
    assert "# workers = 1" in path.read_text(encoding="utf-8")
    assert path.stat().st_mode & 0o777 == 0o600


def test_config_show_shows_runtime_values_with_their_origin(cli: Cli, tmp_path: Path) -> None:
    import asyncio

    from kirogate.store import Store

    async def store_one() -> None:
        store = await Store.open(database_url=None, data_dir=tmp_path, secret_key=None)
        try:
            await store.set_setting("pool.mode", "random")
        finally:
            await store.close()

    asyncio.run(store_one())
    result = cli("config", "show", "--json", "--data-dir", tmp_path, "--set", "pool.mode=balanced")
    data = json.loads(result.out)
    assert data["settings"]["pool.mode"] == {
        "value": "random",
        "origin": "runtime (admin API)",
        "env": ["KIROGATE_POOL_MODE"],
    }


def test_config_show_says_which_proxy_each_credential_uses_masked(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from kirogate.service.operations import Operations
    from kirogate.upstream.credentials import AuthMethod, Credential

    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    settings = Settings(data_dir=tmp_path)

    async def prepare() -> None:
        async with Operations.open(settings) as ops:
            one, _ = await ops.add(Credential(AuthMethod.SOCIAL, refresh_token="a" * 90))
            await ops.add(Credential(AuthMethod.SOCIAL, refresh_token="b" * 90))
            await ops.add(Credential(AuthMethod.SOCIAL, refresh_token="c" * 90, proxy_url="direct"))
            record = await ops.add_proxy("http://u:proxy-secret-pw@10.0.0.1:8080")
            assert one.id is not None
            await ops.assign_proxy(one.id, record.id)

    asyncio.run(prepare())
    result = cli("config", "show", "--json", "--data-dir", tmp_path)
    routes = {row["id"]: row["proxy"] for row in json.loads(result.out)["credential_proxies"]}
    assert routes[1] == "proxy #1 http://***@10.0.0.1:8080 (assigned)"
    assert routes[2] == "proxy pool: round_robin over 1 proxy(ies)"
    assert routes[3] == "direct"
    monkeypatch.setenv("HTTPS_PROXY", "http://corp:env-secret@proxy.corp:3128")
    text = cli("config", "show", "--data-dir", tmp_path, "--set", "proxy.strategy=assigned")
    assert "credential proxies" in text.out
    assert "http://***@proxy.corp:3128 (environment)" in text.out
    assert "proxy-secret-pw" not in text.out and "env-secret" not in text.out
