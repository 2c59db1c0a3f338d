"""The runtime settings' registry: which keys, their kinds as the console draws them, masking."""

from __future__ import annotations

import pytest

from kirogate.errors import ConfigError
from kirogate.settings import Settings, load_settings
from kirogate.settings.registry import BY_KEY
from kirogate.settings.runtime import (
    RUNTIME,
    check_runtime_key,
    describe_kind,
    json_value,
    mask_url,
    parse_runtime,
    runtime_specs,
    shown_value,
    spec_json,
    with_runtime,
)


def test_keys_the_registry_lacks_are_simply_absent() -> None:
    keys = [runtime.key for runtime in runtime_specs()]
    assert "pool.mode" in keys and "console.announcement" in keys
    assert all(key in BY_KEY for key in keys)
    assert [key for key in RUNTIME if key in BY_KEY] == keys


def test_every_runtime_setting_has_a_description() -> None:
    for runtime in runtime_specs():
        assert runtime.description, runtime.key


def test_with_runtime_lays_values_over_the_configured_ones() -> None:
    configured = load_settings({"KIROGATE_POOL_MODE": "balanced"})
    settings = with_runtime(configured, {"pool.mode": "random", "pool.affinity.ttl": 5.0})
    assert settings.pool.mode.value == "random"
    assert settings.pool.affinity.ttl == 5.0
    assert settings.origins["pool.mode"].kind == "runtime"
    assert configured.origins["pool.mode"].kind == "env"
    assert configured.pool.mode.value == "balanced"


def test_a_rule_across_settings_is_still_checked() -> None:
    with pytest.raises(ConfigError):
        with_runtime(Settings(), {"pool.max_attempts": 0})


def test_unknown_and_fixed_keys_are_named() -> None:
    with pytest.raises(ConfigError, match="unknown setting 'nope'"):
        check_runtime_key("nope")
    with pytest.raises(ConfigError, match="cannot be changed at runtime"):
        check_runtime_key("server.port")


def test_values_round_trip_through_json() -> None:
    for key, raw in [
        ("models.overrides", {"gpt-*": "glm-5"}),
        ("models.overrides", {}),
        ("models.hidden", ["a", "b*"]),
        ("pool.mode", "round_robin"),
        ("pool.cooldown_429", "2m"),
    ]:
        spec = BY_KEY[key]
        value = parse_runtime(key, raw)
        assert parse_runtime(key, spec_json(spec, value)) == value


def test_kinds_are_described_for_forms() -> None:
    assert describe_kind(BY_KEY["pool.max_attempts"].kind)["type"] == "integer"
    assert describe_kind(BY_KEY["compression.enabled"].kind)["type"] == "boolean"
    assert describe_kind(BY_KEY["upstream.proxy_url"].kind)["also"] == ["direct"]
    assert describe_kind(BY_KEY["models.hidden"].kind)["type"] == "list"
    assert describe_kind(BY_KEY["models.overrides"].kind)["type"] == "table"
    assert describe_kind(BY_KEY["console.announcement"].kind)["type"] == "text"
    assert describe_kind(BY_KEY["pool.backoff_jitter"].kind)["maximum"] == 1
    assert describe_kind(BY_KEY["server.max_body_size"].kind)["type"] == "bytes"
    assert describe_kind(BY_KEY["upstream.first_token_timeout"].kind)["exclusive_minimum"] == 0


def test_secrets_are_masked() -> None:
    assert mask_url("http://u:p@h:8080/x") == "http://u:***@h:8080/x"
    assert mask_url("http://h:8080") == "http://h:8080"
    assert mask_url("http://h:99999999") == "***"
    assert shown_value(BY_KEY["server.admin_key"], "k") == "***"
    assert shown_value(BY_KEY["upstream.proxy_url"], "socks5://a:b@h") == "socks5://a:***@h"


def test_json_value_of_whole_sections() -> None:
    assert json_value(Settings().console) == {"announcement": None, "session_lifetime": 43200.0}


def test_json_value_of_paths_and_urls_without_passthrough() -> None:
    from pathlib import Path

    assert json_value(Path("/srv/kg")) == "/srv/kg"
    assert describe_kind(BY_KEY["upstream.url"].kind) == {
        "allowed": BY_KEY["upstream.url"].kind.allowed,
        "type": "url",
    }
    assert describe_kind(BY_KEY["server.port"].kind)["maximum"] == 65535
