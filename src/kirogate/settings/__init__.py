"""Typed, frozen settings, built once from flags, environment and a config file, then passed down.

Names line up everywhere: the field ``upstream.url`` is the flag ``--upstream-url``, the env var
``KIROGATE_UPSTREAM_URL`` and ``url`` under ``[upstream]`` in ``config.toml``. Precedence: flag >
env > config file > default (``docs/configuration.md``). Nothing reads ``os.environ`` at import
time; call :func:`load_settings` or :func:`resolve_settings`.
"""

from kirogate.settings.files import KIRO_RS_IGNORED, KIRO_RS_KEYS, ConfigFile, read_config_file
from kirogate.settings.kinds import parse_duration
from kirogate.settings.loader import (
    CONFIG_ENV,
    DEFAULT_CONFIG_NAME,
    ConfigCheck,
    LoadedSettings,
    Override,
    build_settings,
    check_config_file,
    find_config_file,
    home_path,
    load_settings,
    locate_config_file,
    resolve_settings,
)
from kirogate.settings.model import (
    DEFAULT_DATA_DIR,
    DEFAULT_KIRO_VERSION,
    DEFAULT_NODE_VERSION,
    DEFAULT_PORT,
    KIRO_IDE_TOKEN_FILE,
    AffinitySettings,
    CacheSettings,
    CompressionSettings,
    ConsoleSettings,
    ModelsSettings,
    Origin,
    PoolMode,
    PoolSettings,
    ProxySettings,
    RequestLogSettings,
    ServerSettings,
    Settings,
    UpstreamSettings,
)
from kirogate.settings.registry import BY_KEY, SPECS, Spec

__all__ = [
    "BY_KEY",
    "CONFIG_ENV",
    "DEFAULT_CONFIG_NAME",
    "DEFAULT_DATA_DIR",
    "DEFAULT_KIRO_VERSION",
    "DEFAULT_NODE_VERSION",
    "DEFAULT_PORT",
    "KIRO_IDE_TOKEN_FILE",
    "KIRO_RS_IGNORED",
    "KIRO_RS_KEYS",
    "SPECS",
    "AffinitySettings",
    "CacheSettings",
    "CompressionSettings",
    "ConfigCheck",
    "ConfigFile",
    "ConsoleSettings",
    "LoadedSettings",
    "ModelsSettings",
    "Origin",
    "Override",
    "PoolMode",
    "PoolSettings",
    "ProxySettings",
    "RequestLogSettings",
    "ServerSettings",
    "Settings",
    "Spec",
    "UpstreamSettings",
    "build_settings",
    "check_config_file",
    "find_config_file",
    "home_path",
    "load_settings",
    "locate_config_file",
    "parse_duration",
    "read_config_file",
    "resolve_settings",
]
