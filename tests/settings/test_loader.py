"""Settings: precedence flag > env > file > default per field, peer names, files, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import kirogate.pool as pool_settings
from kirogate.errors import ConfigError, SettingsError
from kirogate.settings import (
    AffinitySettings,
    Override,
    PoolMode,
    PoolSettings,
    Settings,
    load_settings,
    parse_duration,
    resolve_settings,
)

# key, flag value, (env name, env text), TOML text, and the value each layer yields.
PRECEDENCE = [
    ("server.port", 7001, ("KIROGATE_PORT", "7002"), "[server]\nport = 7003", (7001, 7002, 7003, 8990)),
    ("server.host", "10.0.0.1", ("HOST", "10.0.0.2"), '[server]\nhost = "10.0.0.3"',
     ("10.0.0.1", "10.0.0.2", "10.0.0.3", "127.0.0.1")),
    ("server.api_keys", ("flag-key",), ("API_KEY", "env-key"), '[server]\napi_keys = ["file-key"]',
     (("flag-key",), ("env-key",), ("file-key",), ())),
    ("log_level", "debug", ("LOG_LEVEL", "WARN"), 'log_level = "error"',
     ("debug", "warning", "error", "info")),
    ("pool.mode", "balanced", ("KIROGATE_POOL_MODE", "round-robin"), '[pool]\nmode = "random"',
     (PoolMode.BALANCED, PoolMode.ROUND_ROBIN, PoolMode.RANDOM, PoolMode.PRIORITY)),
    ("pool.affinity.ttl", 60.0, ("SESSION_POOL_TTL", "30m"), "[pool.affinity]\nttl = 90",
     (60.0, 1800.0, 90.0, 1800.0)),
    ("upstream.region", "eu-west-1", ("REGION", "eu-central-1"), '[upstream]\nregion = "ap-south-1"',
     ("eu-west-1", "eu-central-1", "ap-south-1", "us-east-1")),
    ("compression.enabled", True, ("KIROGATE_COMPRESSION_ENABLED", "yes"),
     "[compression]\nenabled = false", (True, True, False, False)),
    ("workers", 4, ("KIROGATE_WORKERS", "3"), "workers = 2", (4, 3, 2, 1)),
    ("database_url", "sqlite:///flag.db", ("KIROGATE_DATABASE_URL", "sqlite:///env.db"),
     'database_url = "postgresql://u@h/db"',
     ("sqlite:///flag.db", "sqlite:///env.db", "postgresql://u@h/db", None)),
]  # fmt: skip


def _config(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("key", "flag", "env", "toml", "expected"), PRECEDENCE)
def test_each_field_takes_flag_then_env_then_file_then_default(
    tmp_path: Path, key: str, flag: Any, env: tuple[str, str], toml: str, expected: tuple[Any, ...]
) -> None:
    config = _config(tmp_path, toml)
    environ = {env[0]: env[1]}
    layers = [
        ({key: flag}, environ, config, "flag"),
        (None, environ, config, "env"),
        (None, {}, config, "file"),
        (None, {}, None, "default"),
    ]
    for (overrides, env_map, path, origin), want in zip(layers, expected, strict=True):
        loaded = resolve_settings(env_map, overrides, config_file=path, read_default_config=False)
        assert loaded.value(key) == want, origin
        assert loaded.origins[key].kind == origin


def test_origin_names_the_flag_the_env_var_and_the_file_key(tmp_path: Path) -> None:
    config = _config(tmp_path, "[server]\nhost = '0.0.0.0'")
    loaded = resolve_settings({"PORT": "9000"}, {"log_level": "debug"}, config_file=config)
    assert str(loaded.origins["server.port"]) == "env PORT"
    assert str(loaded.origins["log_level"]) == "flag --log-level"
    assert str(loaded.origins["server.host"]) == f"file {config} (server.host)"
    assert str(loaded.origins["workers"]) == "default"
    assert loaded.config_file == config


def test_kirogate_env_name_beats_the_peer_name_and_says_so() -> None:
    loaded = resolve_settings({"KIROGATE_PORT": "9001", "PORT": "9002"})
    assert loaded.settings.server.port == 9001
    assert "env PORT is ignored: KIROGATE_PORT is set and wins" in loaded.notes


@pytest.mark.parametrize(
    ("env", "key", "expected"),
    [
        ({"PORT": "3000"}, "server.port", 3000),
        ({"HOST": "0.0.0.0"}, "server.host", "0.0.0.0"),
        ({"API_KEY": "ki2api-key-2024"}, "server.api_keys", ("ki2api-key-2024",)),
        ({"KIRO_CLIENT_TOKEN": "a, b"}, "server.api_keys", ("a", "b")),
        ({"ADMIN_API_KEY": "sk-admin"}, "server.admin_key", "sk-admin"),
        ({"LOG_LEVEL": "WARN"}, "log_level", "warning"),
        ({"LOG_FORMAT": "json"}, "log_format", "json"),
        ({"DATA_DIR": "/srv/kg"}, "data_dir", Path("/srv/kg")),
        ({"REGION": "eu-central-1"}, "upstream.region", "eu-central-1"),
        ({"SESSION_POOL_ENABLED": "false"}, "pool.affinity.enabled", False),
        ({"SESSION_POOL_MAX_SIZE": "5"}, "pool.affinity.max_size", 5),
        ({"SESSION_POOL_TTL": "1h30m"}, "pool.affinity.ttl", 5400.0),
        ({"SESSION_POOL_COOLDOWN": "60s"}, "pool.cooldown_429", 60.0),
        ({"SESSION_POOL_MAX_RETRIES": "5"}, "pool.max_attempts", 5),
        ({"SUSPENDED_TOKEN_COOLDOWN": "24h"}, "pool.suspended_cooldown", 86400.0),
        ({"KIROGATE_POOL_MAX_ATTEMPTS": "4"}, "pool.max_attempts", 4),
        ({"KIROGATE_CREDENTIALS": "/a.json:/b.json"}, "credentials_files",
         (Path("/a.json"), Path("/b.json"))),
    ],
)  # fmt: skip
def test_peer_and_kirogate_env_names_are_read(
    env: dict[str, str], key: str, expected: object
) -> None:
    assert resolve_settings(env).value(key) == expected


def test_pool_settings_live_in_settings_and_the_pool_package_re_exports_them() -> None:
    assert pool_settings.PoolSettings is PoolSettings
    assert pool_settings.AffinitySettings is AffinitySettings
    assert pool_settings.PoolMode is PoolMode
    assert isinstance(Settings().pool, PoolSettings)


def test_kiro_rs_config_json_is_read_with_its_camel_case_keys(tmp_path: Path) -> None:
    config = {
        "host": "0.0.0.0",
        "port": 8991,
        "apiKey": "sk-kiro-rs-qazWSXedcRFV123456",
        "region": "us-east-1",
        "authRegion": "us-east-2",
        "apiRegion": "eu-central-1",
        "kiroVersion": "0.9.2",
        "machineId": "a" * 64,
        "systemVersion": "darwin#24.6.0",
        "nodeVersion": "22.21.1",
        "tlsBackend": "rustls",
        "proxyUrl": "http://127.0.0.1:7890",
        "proxyUsername": "user",
        "proxyPassword": "p@ss",
        "adminApiKey": "sk-admin-your-secret-key",
        "loadBalancingMode": "balanced",
        "countTokensApiUrl": None,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    loaded = resolve_settings({}, config_file=path)
    s = loaded.settings
    assert (s.server.host, s.server.port) == ("0.0.0.0", 8991)
    assert s.server.api_keys == ("sk-kiro-rs-qazWSXedcRFV123456",)
    assert s.server.admin_key == "sk-admin-your-secret-key"
    assert (s.upstream.auth_region, s.upstream.api_region) == ("us-east-2", "eu-central-1")
    assert (s.upstream.kiro_version, s.upstream.node_version) == ("0.9.2", "22.21.1")
    assert s.upstream.system_version == "darwin#24.6.0"
    assert s.upstream.proxy_url == "http://user:p%40ss@127.0.0.1:7890"
    assert s.pool.mode is PoolMode.BALANCED
    assert str(loaded.origins["server.admin_key"]) == f"file {path} (adminApiKey)"
    assert any("'tlsBackend' is ignored" in note for note in loaded.notes)


def test_kiro_rs_api_keys_list_keeps_the_enabled_ones(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    keys = [{"key": "k2", "enabled": True}, {"key": "k3", "enabled": False}]
    path.write_text(json.dumps({"apiKey": "k1", "apiKeys": keys}), encoding="utf-8")
    assert load_settings({}, config_file=path).server.api_keys == ("k1", "k2")


def test_unknown_kiro_rs_key_names_the_file_the_key_and_the_allowed_keys(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"prot": 8990}), encoding="utf-8")
    with pytest.raises(SettingsError) as error:
        load_settings({}, config_file=path)
    message = str(error.value)
    assert str(path) in message
    assert "key 'prot'" in message
    assert "did you mean 'port'" in message
    assert "loadBalancingMode" in message


def test_unknown_toml_key_names_the_file_the_section_and_what_is_allowed(tmp_path: Path) -> None:
    path = _config(tmp_path, "[pool]\nmodee = 'balanced'")
    with pytest.raises(SettingsError) as error:
        load_settings({}, config_file=path)
    message = str(error.value)
    assert message.startswith(f"{path}: key 'pool.modee': unknown key; did you mean 'mode'?")
    assert "allowed: at [pool]:" in message
    assert "[pool.affinity]" in message


def test_unknown_toml_section_is_an_error(tmp_path: Path) -> None:
    path = _config(tmp_path, "[servr]\nport = 1")
    with pytest.raises(SettingsError, match="key 'servr': unknown key; did you mean 'server'"):
        load_settings({}, config_file=path)


@pytest.mark.parametrize(
    ("toml", "key", "allowed"),
    [
        ("[server]\nport = 70000", "server.port", "a whole number from 1 to 65535"),
        ("[server]\nport = 'eighty'", "server.port", "a whole number from 1 to 65535"),
        ("log_level = 'loud'", "log_level", "one of debug, info, warning, error, critical"),
        ("log_format = 'xml'", "log_format", "text or json"),
        ("workers = 0", "workers", "a whole number, 1 or more"),
        ("database_url = 'mysql://h/db'", "database_url", "a database URL"),
        ("redis_url = 'http://h'", "redis_url", "a Redis URL"),
        ("[upstream]\nurl = 'ftp://x'", "upstream.url", "an http:// or https:// URL"),
        ("[upstream]\nproxy_url = 'gopher://x'", "upstream.proxy_url", "a proxy URL"),
        ("[upstream]\nmachine_id = 'abc'", "upstream.machine_id", "64 hex characters or a UUID"),
        ("[upstream]\nregion = 'mars'", "upstream.region", "an AWS region"),
        ("[pool]\nmode = 'fastest'", "pool.mode", "one of priority, balanced"),
        ("[pool]\nbackoff_jitter = 2", "pool.backoff_jitter", "a number from 0 to 1"),
        ("[pool.affinity]\nttl = 0", "pool.affinity.ttl", "seconds (a number, or a duration"),
        ("[server]\napi_keys = [1]", "server.api_keys", "a key, or a list of keys"),
        ("[compression]\nenabled = 'maybe'", "compression.enabled", "true or false"),
    ],
)
def test_bad_file_value_names_the_file_the_key_and_what_is_allowed(
    tmp_path: Path, toml: str, key: str, allowed: str
) -> None:
    path = _config(tmp_path, toml)
    with pytest.raises(SettingsError) as error:
        load_settings({}, config_file=path)
    message = str(error.value)
    assert message.startswith(f"{path}: key '{key}': ")
    assert f"(allowed: {allowed}" in message
    assert isinstance(error.value, ConfigError)


def test_bad_env_value_names_the_variable() -> None:
    with pytest.raises(SettingsError) as error:
        load_settings({"PORT": "abc"})
    assert str(error.value) == (
        "env PORT: 'abc' is not a whole number (allowed: a whole number from 1 to 65535)"
    )


def test_bad_flag_value_names_the_flag() -> None:
    with pytest.raises(SettingsError, match=r"^flag --port: 0 is too small"):
        load_settings({}, {"server.port": 0})


def test_set_override_is_parsed_like_an_env_value() -> None:
    loaded = resolve_settings(
        {}, {"pool.affinity.ttl": Override("2h", "--set pool.affinity.ttl", text=True)}
    )
    assert loaded.settings.pool.affinity.ttl == 7200.0
    assert str(loaded.origins["pool.affinity.ttl"]) == "flag --set pool.affinity.ttl"


def test_unknown_override_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown setting 'pool\.nope'"):
        load_settings({}, {"pool.nope": 1})


def test_invalid_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    path = _config(tmp_path, "[server\nport = 1")
    with pytest.raises(SettingsError, match=f"^{path}: invalid TOML"):
        load_settings({}, config_file=path)


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="config file not found"):
        load_settings({}, config_file=tmp_path / "nope.toml")


def test_config_file_from_kirogate_config_env(tmp_path: Path) -> None:
    path = _config(tmp_path, "[server]\nport = 4321")
    loaded = resolve_settings({"KIROGATE_CONFIG": str(path)})
    assert loaded.settings.server.port == 4321
    assert loaded.config_file == path


def test_default_config_toml_in_the_data_dir_is_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _config(data, "[server]\nport = 5555")
    assert load_settings({"KIROGATE_DATA_DIR": str(data)}).server.port == 5555
    assert (
        load_settings({"KIROGATE_DATA_DIR": str(data)}, read_default_config=False).server.port
        == 8990
    )


def test_default_data_dir_is_under_home_from_environ(tmp_path: Path) -> None:
    (tmp_path / ".kirogate").mkdir()
    _config(tmp_path / ".kirogate", "workers = 3")
    assert load_settings({"HOME": str(tmp_path)}).workers == 3


def test_relative_paths_in_a_file_are_relative_to_the_file(tmp_path: Path) -> None:
    path = _config(tmp_path, "data_dir = 'state'\ncredentials_files = ['c.json', '/abs/d.json']")
    settings = load_settings({}, config_file=path)
    assert settings.data_dir == tmp_path / "state"
    assert settings.credentials_files == (tmp_path / "c.json", Path("/abs/d.json"))


def test_a_single_string_is_accepted_for_a_key_list(tmp_path: Path) -> None:
    path = _config(tmp_path, "[server]\napi_keys = 'only-one'")
    assert load_settings({}, config_file=path).server.api_keys == ("only-one",)


def test_proxy_direct_and_database_urls_are_accepted() -> None:
    settings = load_settings(
        {
            "KIROGATE_PROXY_URL": "DIRECT",
            "KIROGATE_DATABASE_URL": "postgresql+asyncpg://u:p@localhost:5432/kg",
            "KIROGATE_REDIS_URL": "redis://127.0.0.1:6379/0",
        }
    )
    assert settings.upstream.proxy_url == "direct"
    assert settings.database_url == "postgresql+asyncpg://u:p@localhost:5432/kg"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("1.5", 1.5), ("60s", 60.0), ("30m", 1800.0), ("1h30m", 5400.0),
     ("100ms", 0.1), ("1d", 86400.0)],
)  # fmt: skip
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5x", "m5", "1h 30m", "-"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_cache_estimate_is_off_by_default_and_on_from_env_or_file(tmp_path: Path) -> None:
    assert load_settings({}, read_default_config=False).cache.estimate is False
    assert load_settings({"KIROGATE_CACHE_ESTIMATE": "1"}).cache.estimate is True
    config = _config(tmp_path, "[cache]\nestimate = true")
    assert load_settings({}, config_file=config).cache.estimate is True


def test_cache_estimate_flag_sets_the_setting() -> None:
    import argparse

    from kirogate.cli.command_kit import overrides_from
    from kirogate.cli.server import SERVE_FLAGS, add_serve_options

    parser = argparse.ArgumentParser()
    add_serve_options(parser)
    assert overrides_from(parser.parse_args(["--cache-estimate"]), SERVE_FLAGS) == {
        "cache.estimate": True
    }
    assert "cache.estimate" not in overrides_from(parser.parse_args([]), SERVE_FLAGS)


@pytest.mark.parametrize(
    ("text", "size"),
    [("1048576", 1 << 20), ("512k", 512 << 10), ("32MiB", 32 << 20), ("32 MB", 32 << 20)],
)
def test_max_body_size_takes_bytes_or_a_unit(text: str, size: int) -> None:
    settings = load_settings({"KIROGATE_MAX_BODY_SIZE": text})
    assert settings.server.max_body_size == size


def test_max_body_size_defaults_to_32_mib() -> None:
    assert load_settings({}).server.max_body_size == 32 << 20


@pytest.mark.parametrize("text", ["lots", "0", "-1", "1.5m"])
def test_max_body_size_refuses_what_is_not_a_size(text: str) -> None:
    with pytest.raises(ConfigError, match="KIROGATE_MAX_BODY_SIZE"):
        load_settings({"KIROGATE_MAX_BODY_SIZE": text})


def test_model_aliases_from_a_file_table_or_env_text(tmp_path: Path) -> None:
    assert load_settings({}, read_default_config=False).models.aliases == ()
    config = _config(tmp_path, '[models.aliases]\n"gpt-4o" = "claude-sonnet-4-6"\nfast = " x "')
    assert load_settings({}, config_file=config).models.aliases == (
        ("gpt-4o", "claude-sonnet-4-6"),
        ("fast", "x"),
    )
    env = {"KIROGATE_MODEL_ALIASES": "a=claude-haiku-4-5, b = custom-id"}
    assert load_settings(env).models.aliases == (("a", "claude-haiku-4-5"), ("b", "custom-id"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("no-equals", "is not alias=target"),
        ("a=", "both names are required"),
        ("=b", "both names are required"),
    ],
)
def test_bad_model_aliases_name_the_problem(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings({"KIROGATE_MODEL_ALIASES": value})


def test_a_model_alias_target_must_be_text(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be a string"):
        load_settings({}, config_file=_config(tmp_path, "[models.aliases]\na = 1"))
    with pytest.raises(ConfigError, match="expected a table"):
        load_settings({}, config_file=_config(tmp_path, "[models]\naliases = 1"))


def test_shutdown_grace_defaults_to_20_seconds_and_takes_a_duration() -> None:
    assert load_settings({}).server.shutdown_grace == 20.0
    assert load_settings({"KIROGATE_SHUTDOWN_GRACE": "1m"}).server.shutdown_grace == 60.0
    assert load_settings({"KIROGATE_SHUTDOWN_GRACE": "0"}).server.shutdown_grace == 0.0
    with pytest.raises(ConfigError, match="KIROGATE_SHUTDOWN_GRACE"):
        load_settings({"KIROGATE_SHUTDOWN_GRACE": "-1"})


def test_serve_takes_the_shutdown_grace_as_a_flag() -> None:
    import argparse

    from kirogate.cli.command_kit import overrides_from
    from kirogate.cli.server import SERVE_FLAGS, add_serve_options

    parser = argparse.ArgumentParser()
    add_serve_options(parser)
    overrides = overrides_from(parser.parse_args(["--shutdown-grace", "2.5"]), SERVE_FLAGS)
    assert load_settings({}, overrides).server.shutdown_grace == 2.5


def test_address_and_proxy_pool_settings_parse_and_refuse_bad_values() -> None:
    from kirogate.errors import ConfigError
    from kirogate.settings import load_settings

    environ = {
        "KIROGATE_TRUSTED_PROXIES": "10.0.0.1/8, ::1",
        "KIROGATE_IP_RATE_LIMIT": "30",
        "KIROGATE_IP_RATE_WINDOW": "1m",
        "PROXY_POOL": "http://a:1, socks5h://u:p@b:2",
        "KIROGATE_PROXY_STRATEGY": "least-used",
    }
    settings = load_settings(environ, read_default_config=False)
    assert settings.server.trusted_proxies == ("10.0.0.0/8", "::1/128")
    assert (settings.server.ip_rate_limit, settings.server.ip_rate_window) == (30, 60.0)
    assert settings.proxy.pool == ("http://a:1", "socks5h://u:p@b:2")
    assert settings.proxy.strategy == "least_used"
    assert load_settings({}, read_default_config=False).server.trusted_proxies == ()
    for name, value in (
        ("KIROGATE_TRUSTED_PROXIES", "10.0.0.0/33"),
        ("PROXY_POOL", "ftp://x:1"),
        ("KIROGATE_PROXY_STRATEGY", "fastest"),
        ("KIROGATE_IP_RATE_WINDOW", "0"),
    ):
        with pytest.raises(ConfigError):
            load_settings({name: value}, read_default_config=False)
