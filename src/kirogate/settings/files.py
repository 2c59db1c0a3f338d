"""Config files: kirogate's TOML, or a kiro.rs ``config.json`` read as it is.

Both become a flat ``{key: FileValue}`` map keyed like :data:`registry.SPECS`. Unknown keys are
errors that name the file, the key and the keys allowed there (raised at the first, or all
collected when the caller passes an ``errors`` list, as ``config check`` does); kiro.rs keys that have no
meaning here are accepted and listed in :attr:`ConfigFile.notes`. Relative paths in a file
are relative to the file's directory.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from kirogate.errors import SettingsError
from kirogate.settings.kinds import PathList, PathValue
from kirogate.settings.registry import BY_KEY, SECTIONS, SPECS

# kiro.rs config.json key -> our key.
KIRO_RS_KEYS: dict[str, str] = {
    "host": "server.host",
    "port": "server.port",
    "apiKey": "server.api_keys",
    "adminApiKey": "server.admin_key",
    "region": "upstream.region",
    "authRegion": "upstream.auth_region",
    "apiRegion": "upstream.api_region",
    "kiroVersion": "upstream.kiro_version",
    "machineId": "upstream.machine_id",
    "systemVersion": "upstream.system_version",
    "nodeVersion": "upstream.node_version",
    "proxyUrl": "upstream.proxy_url",
    "loadBalancingMode": "pool.mode",
}
_COUNT_TOKENS = "token counts are estimated locally; the external count_tokens API is not called"
# kiro.rs keys accepted for compatibility that change nothing here, with the reason.
KIRO_RS_IGNORED: dict[str, str] = {
    "tlsBackend": "kirogate uses Python's TLS (OpenSSL); there is no backend to choose",
    "countTokensApiUrl": _COUNT_TOKENS,
    "countTokensApiKey": _COUNT_TOKENS,
    "countTokensAuthType": _COUNT_TOKENS,
    "extractThinking": "not configurable in kirogate",
    "defaultEndpoint": "kirogate has only the 'ide' endpoint",
    "endpoints": "kirogate has only the 'ide' endpoint",
    "dynamicModels": "the model list is not configurable in kirogate",
    "proxyPool": "use per-credential proxyUrl or the global proxy_url",
}
_KIRO_RS_SPECIAL = ("proxyUsername", "proxyPassword", "apiKeys")


@dataclass(frozen=True, slots=True)
class FileValue:
    value: object
    written_as: str  # the key as the file spells it (``port`` in kiro.rs, ``server.port`` in TOML)


@dataclass(slots=True)
class ConfigFile:
    path: Path
    format: str  # "toml" or "kiro.rs"
    values: dict[str, FileValue] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(str(path), None, "config file not found") from None
    except IsADirectoryError:
        raise SettingsError(str(path), None, "is a directory, not a config file") from None
    except PermissionError:
        raise SettingsError(str(path), None, "permission denied") from None
    except UnicodeDecodeError as exc:
        raise SettingsError(str(path), None, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise SettingsError(str(path), None, f"cannot read: {exc.strerror or exc}") from None


def _allowed_in(section: str) -> list[str]:
    names = [spec.name for spec in SPECS if spec.section == section]
    prefix = f"{section}." if section else ""
    tables = [
        s[len(prefix) :] for s in SECTIONS if s.startswith(prefix) and "." not in s[len(prefix) :]
    ]
    return names + [f"[{prefix}{table}]" for table in tables]


def _unknown(path: Path, key: str, section: str) -> SettingsError:
    allowed = _allowed_in(section)
    name = key.rpartition(".")[2]
    close = difflib.get_close_matches(name, [a.strip("[]").rpartition(".")[2] for a in allowed], 1)
    hint = f"unknown key; did you mean '{close[0]}'?" if close else "unknown key"
    where = f"[{section}]" if section else "the top level"
    return SettingsError(str(path), key, hint, f"at {where}: {', '.join(allowed)}")


Errors = list[SettingsError] | None


def _fail(errors: Errors, error: SettingsError) -> None:
    """Raise ``error``, or collect it when the caller wants every error of the file."""
    if errors is None:
        raise error
    errors.append(error)


def _flatten(
    path: Path, table: dict[str, Any], section: str, out: ConfigFile, errors: Errors = None
) -> None:
    for name, value in table.items():
        key = f"{section}.{name}" if section else name
        if key in SECTIONS:
            if not isinstance(value, dict):
                error = SettingsError(str(path), key, "must be a table", f"[{key}] with its keys")
                _fail(errors, error)
                continue
            _flatten(path, value, key, out, errors)
        elif key in BY_KEY:
            if isinstance(value, dict) and not BY_KEY[key].kind.accepts_table:
                _fail(errors, SettingsError(str(path), key, "must be a value, not a table"))
                continue
            out.values[key] = FileValue(value, key)
        else:
            _fail(errors, _unknown(path, key, section))


def _with_proxy_auth(url: str, username: str | None, password: str | None) -> str:
    parts = urlsplit(url)
    if not username or "@" in parts.netloc:
        return url
    auth = quote(username, safe="")
    if password:
        auth += ":" + quote(password, safe="")
    return urlunsplit(parts._replace(netloc=f"{auth}@{parts.netloc}"))


def _kiro_rs(path: Path, data: dict[str, Any], out: ConfigFile, errors: Errors = None) -> None:
    for name, value in data.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if name in KIRO_RS_KEYS:
            out.values[KIRO_RS_KEYS[name]] = FileValue(value, name)
        elif name in KIRO_RS_IGNORED:
            out.notes.append(f"{path}: '{name}' is ignored: {KIRO_RS_IGNORED[name]}")
        elif name not in _KIRO_RS_SPECIAL:
            allowed = [*KIRO_RS_KEYS, *_KIRO_RS_SPECIAL, *KIRO_RS_IGNORED]
            close = difflib.get_close_matches(name, allowed, 1)
            hint = f"unknown kiro.rs key; did you mean '{close[0]}'?" if close else "unknown key"
            _fail(errors, SettingsError(str(path), name, hint, ", ".join(allowed)))
    keys = data.get("apiKeys")
    if keys is not None:
        try:
            found = _kiro_rs_api_keys(path, keys, data)
        except SettingsError as error:
            _fail(errors, error)
        else:
            out.values["server.api_keys"] = FileValue(found, "apiKeys")
    proxy = out.values.get("upstream.proxy_url")
    user, password = data.get("proxyUsername"), data.get("proxyPassword")
    bad = False
    for name, value in (("proxyUsername", user), ("proxyPassword", password)):
        if value is not None and not isinstance(value, str):
            _fail(errors, SettingsError(str(path), name, "must be a string"))
            bad = True
    if bad:
        return
    if proxy is not None and isinstance(proxy.value, str) and (user or password):
        out.values["upstream.proxy_url"] = FileValue(
            _with_proxy_auth(proxy.value, user, password), "proxyUrl"
        )
    elif user or password:
        out.notes.append(f"{path}: proxyUsername/proxyPassword are ignored without proxyUrl")


def _kiro_rs_api_keys(path: Path, keys: object, data: dict[str, Any]) -> list[str]:
    """kiro.rs forks' ``apiKeys: [{key, enabled, ...}]``: the enabled keys, after ``apiKey``."""
    if not isinstance(keys, list):
        raise SettingsError(str(path), "apiKeys", "must be a list of {key, enabled} objects")
    out = [data["apiKey"]] if isinstance(data.get("apiKey"), str) and data["apiKey"] else []
    for index, item in enumerate(keys):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise SettingsError(str(path), f"apiKeys[{index}]", "must be an object with a 'key'")
        if item.get("enabled", True) is not False and item["key"].strip():
            out.append(item["key"])
    return out


def _relative_paths(out: ConfigFile) -> None:
    base = out.path.parent
    for key, item in out.values.items():
        kind = BY_KEY[key].kind
        if not isinstance(kind, PathValue | PathList):
            continue

        def anchor(value: object) -> object:
            if isinstance(value, str) and value and not value.startswith("~"):
                candidate = Path(value)
                return str(candidate if candidate.is_absolute() else base / candidate)
            return value

        value = item.value
        fixed = [anchor(v) for v in value] if isinstance(value, list) else anchor(value)
        out.values[key] = FileValue(fixed, item.written_as)


def read_config_file(path: Path, errors: Errors = None) -> ConfigFile:
    """Parse ``path`` (``.json``: kiro.rs ``config.json``; anything else: TOML).

    An unreadable file or a syntax error always raises. Other errors raise at the first, or,
    with ``errors`` given, are appended to it and the rest of the file is still read.
    """
    text = _read(path)
    if path.suffix.lower() == ".json":
        out = ConfigFile(path, "kiro.rs")
        try:
            data = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise SettingsError(
                str(path), None, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from None
        if not isinstance(data, dict):
            raise SettingsError(str(path), None, "a kiro.rs config.json must be a JSON object")
        _kiro_rs(path, data, out, errors)
    else:
        out = ConfigFile(path, "toml")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(str(path), None, f"invalid TOML: {exc}") from None
        _flatten(path, data, "", out, errors)
    _relative_paths(out)
    return out
