"""Build :class:`Settings` from flags, env vars, a config file and defaults, remembering origins.

Precedence per setting: flag > env var > config file > default. Among env vars for the same
setting the order of :attr:`Spec.env` decides (``KIROGATE_PORT`` beats ``PORT``). The config
file is ``--config`` / ``KIROGATE_CONFIG``, else ``<data_dir>/config.toml`` when it exists;
``data_dir`` for that lookup comes from the flag or env only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kirogate.errors import ConfigError, SettingsError
from kirogate.settings.files import ConfigFile, read_config_file
from kirogate.settings.model import (
    DEFAULT_DATA_DIR,
    AffinitySettings,
    CacheSettings,
    CompressionSettings,
    ConsoleSettings,
    ModelsSettings,
    Origin,
    PoolSettings,
    ProxySettings,
    RequestLogSettings,
    ServerSettings,
    Settings,
    UpstreamSettings,
)
from kirogate.settings.registry import BY_KEY, SPECS, Spec

CONFIG_ENV = "KIROGATE_CONFIG"
DEFAULT_CONFIG_NAME = "config.toml"


@dataclass(frozen=True, slots=True)
class Override:
    """A value given on the command line; ``text`` values are parsed like env vars."""

    value: object
    flag: str
    text: bool = False


@dataclass(frozen=True, slots=True)
class LoadedSettings:
    settings: Settings
    origins: Mapping[str, Origin]
    config_file: Path | None
    notes: tuple[str, ...] = ()

    def value(self, key: str) -> Any:
        """The effective value of ``key`` (``"pool.affinity.ttl"``)."""
        node: Any = self.settings
        for part in key.split("."):
            node = getattr(node, part)
        return node


def home_path(path: Path, environ: Mapping[str, str]) -> Path:
    """``~`` expanded with ``environ``'s HOME (tests give a fake one), else the real home."""
    if path.parts and path.parts[0] == "~":
        home = environ.get("HOME") or environ.get("USERPROFILE")
        base = Path(home) if home else Path.home()
        return base.joinpath(*path.parts[1:])
    return path


def _env_value(spec: Spec, environ: Mapping[str, str], notes: list[str]) -> tuple[str, str] | None:
    found: tuple[str, str] | None = None
    for name in spec.env:
        raw = environ.get(name)
        if raw is None or not raw.strip():
            continue
        if found is None:
            found = (name, raw)
        elif raw.strip() != found[1].strip():
            notes.append(f"env {name} is ignored: {found[0]} is set and wins")
    return found


def _parse(spec: Spec, value: object, source: str, key: str | None, *, text: bool) -> Any:
    """The typed value; a :class:`SettingsError` naming ``source`` (and the file ``key``)."""
    try:
        return spec.kind.parse(value, text=text)
    except ValueError as exc:
        raise SettingsError(source, key, str(exc), spec.kind.allowed) from None


def _normalise_overrides(overrides: Mapping[str, Any] | None) -> dict[str, Override]:
    out: dict[str, Override] = {}
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        spec = BY_KEY.get(key)
        if spec is None:
            raise ConfigError(f"unknown setting {key!r}; see `kirogate config show` for the keys")
        if isinstance(value, Override):
            out[key] = value
        else:
            flag = (spec.flag or f"--set {key}").split("/")[-1]
            out[key] = Override(value, flag)
    return out


def find_config_file(
    environ: Mapping[str, str], explicit: Path | None, data_dir: Path
) -> tuple[Path | None, str]:
    """The config file to read and who named it (``flag --config``, ``env ...``, ``default``)."""
    if explicit is not None:
        return home_path(explicit, environ).absolute(), "flag --config"
    named = environ.get(CONFIG_ENV, "").strip()
    if named:
        return home_path(Path(named), environ).absolute(), f"env {CONFIG_ENV}"
    default = home_path(data_dir, environ) / DEFAULT_CONFIG_NAME
    return (default, "default") if default.is_file() else (None, "default")


def _early_data_dir(flags: Mapping[str, Override], environ: Mapping[str, str]) -> Path:
    spec = BY_KEY["data_dir"]
    if "data_dir" in flags:
        item = flags["data_dir"]
        return Path(_parse(spec, item.value, f"flag {item.flag}", None, text=item.text))
    env = _env_value(spec, environ, [])
    if env is not None:
        return Path(_parse(spec, env[1], f"env {env[0]}", None, text=True))
    return DEFAULT_DATA_DIR


def locate_config_file(
    environ: Mapping[str, str], overrides: Mapping[str, Any] | None, explicit: Path | None
) -> tuple[Path | None, Path]:
    """(the config file ``serve`` would read, the data dir), without reading the file."""
    data_dir = _early_data_dir(_normalise_overrides(overrides), environ)
    return find_config_file(environ, explicit, data_dir)[0], home_path(data_dir, environ)


@dataclass(frozen=True, slots=True)
class ConfigCheck:
    """Every problem of one config file; ``file`` is ``None`` when it could not be parsed."""

    file: ConfigFile | None
    errors: tuple[ConfigError, ...]
    values: Mapping[str, Any]

    @property
    def valid(self) -> bool:
        return not self.errors


def check_config_file(path: Path) -> ConfigCheck:
    """Validate ``path`` alone (no env, no flags) and report all its errors, not the first."""
    errors: list[SettingsError] = []
    try:
        loaded = read_config_file(path, errors)
    except SettingsError as exc:  # unreadable, or not TOML/JSON: nothing more to look at
        return ConfigCheck(None, (exc,), {})
    values: dict[str, Any] = {}
    for key, entry in loaded.values.items():
        try:
            values[key] = _parse(BY_KEY[key], entry.value, str(path), entry.written_as, text=False)
        except SettingsError as exc:
            errors.append(exc)
    problems: list[ConfigError] = list(errors)
    if not problems:
        try:  # rules that span several values
            build_settings(values)
        except ConfigError as exc:
            problems.append(ConfigError(f"{path}: {exc}"))
    return ConfigCheck(loaded, tuple(problems), values)


def resolve_settings(
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    config_file: Path | None = None,
    read_default_config: bool = True,
) -> LoadedSettings:
    """Effective settings with the origin of every value; raises :class:`ConfigError`.

    ``overrides`` maps keys (``"server.port"``) to flag values or :class:`Override` objects.
    """
    environ = environ if environ is not None else {}
    notes: list[str] = []
    flags = _normalise_overrides(overrides)
    data_dir = _early_data_dir(flags, environ)
    path, named_by = find_config_file(environ, config_file, data_dir)
    if named_by == "default" and not read_default_config:
        path = None
    loaded: ConfigFile | None = read_config_file(path) if path is not None else None
    if loaded is not None:
        notes.extend(loaded.notes)
    values: dict[str, Any] = {}
    origins: dict[str, Origin] = {}
    env_notes: list[str] = []
    for spec in SPECS:
        env = _env_value(spec, environ, env_notes)
        if spec.key in flags:
            item = flags[spec.key]
            source = f"flag {item.flag}"
            values[spec.key] = _parse(spec, item.value, source, None, text=item.text)
            origins[spec.key] = Origin("flag", item.flag)
        elif env is not None:
            values[spec.key] = _parse(spec, env[1], f"env {env[0]}", None, text=True)
            origins[spec.key] = Origin("env", env[0])
        elif loaded is not None and spec.key in loaded.values:
            entry = loaded.values[spec.key]
            values[spec.key] = _parse(
                spec, entry.value, str(loaded.path), entry.written_as, text=False
            )
            origins[spec.key] = Origin("file", f"{loaded.path} ({entry.written_as})")
        else:
            origins[spec.key] = Origin("default")
    notes.extend(dict.fromkeys(env_notes))
    settings = replace(build_settings(values), origins=origins)
    return LoadedSettings(settings, origins, loaded.path if loaded else None, tuple(notes))


def build_settings(values: Mapping[str, Any]) -> Settings:
    """Settings from already-parsed ``{key: value}``; missing keys keep their defaults."""
    sections: dict[str, dict[str, Any]] = {
        "": {},
        "server": {},
        "upstream": {},
        "pool": {},
        "pool.affinity": {},
        "compression": {},
        "cache": {},
        "log": {},
        "models": {},
        "console": {},
        "proxy": {},
    }
    for key, value in values.items():
        spec = BY_KEY[key]
        sections[spec.section][spec.name] = value
    affinity = AffinitySettings(**sections["pool.affinity"])
    return Settings(
        server=ServerSettings(**sections["server"]),
        upstream=UpstreamSettings(**sections["upstream"]),
        pool=PoolSettings(affinity=affinity, **sections["pool"]),
        compression=CompressionSettings(**sections["compression"]),
        cache=CacheSettings(**sections["cache"]),
        models=ModelsSettings(**sections["models"]),
        console=ConsoleSettings(**sections["console"]),
        proxy=ProxySettings(**sections["proxy"]),
        log=RequestLogSettings(**sections["log"]),
        **sections[""],
    )


def load_settings(
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    config_file: Path | None = None,
    read_default_config: bool = True,
) -> Settings:
    """Settings from ``overrides`` (flags) > ``environ`` > config file > defaults."""
    return resolve_settings(
        environ, overrides, config_file=config_file, read_default_config=read_default_config
    ).settings
