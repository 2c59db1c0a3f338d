from __future__ import annotations

import pytest

from kirogate.errors import ConfigError
from kirogate.pool import AffinitySettings, PoolMode, PoolSettings


def test_defaults_follow_kiro_rs_and_kiro2api() -> None:
    settings = PoolSettings()
    assert settings.mode is PoolMode.PRIORITY
    assert (settings.max_attempts, settings.attempts_per_credential) == (9, 3)
    assert settings.failure_threshold == 3
    assert (settings.backoff_base, settings.backoff_cap) == (0.2, 2.0)
    assert (settings.affinity.enabled, settings.affinity.max_size, settings.affinity.ttl) == (
        True,
        3,
        1800.0,
    )


def test_mode_given_as_text_is_parsed() -> None:
    assert PoolSettings(mode="balanced").mode is PoolMode.BALANCED  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "fastest"},
        {"max_attempts": 0},
        {"attempts_per_credential": 0},
        {"failure_threshold": -1},
        {"cooldown_429": -1.0},
        {"queue_timeout": -0.1},
        {"max_concurrency_per_credential": -2},
    ],
)
def test_invalid_values_are_config_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        PoolSettings(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [{"max_size": 0}, {"ttl": 0.0}, {"max_sessions": 0}])
def test_invalid_affinity_values_are_config_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        AffinitySettings(**kwargs)  # type: ignore[arg-type]
