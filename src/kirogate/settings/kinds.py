"""Value kinds: how a setting's text (env, ``--set``) or typed value (TOML, JSON, flags) is read.

Each kind raises :class:`ValueError` with a short reason; the loader adds where the value came
from, the key and :attr:`Kind.allowed`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
# Go-style durations (kiro2api's SESSION_POOL_TTL=30m, SESSION_POOL_COOLDOWN=60s).
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE = re.compile(r"(\d+)\s*(|b|k|kb|kib|m|mb|mib|g|gb|gib)")
# Binary multiples whatever the spelling: "32MB" and "32MiB" both mean 32 * 2**20 bytes.
_SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d")


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


@dataclass(frozen=True, slots=True)
class Kind:
    """Base kind: text, optionally restricted to non-empty."""

    allowed: str = "text"
    accepts_table: ClassVar[bool] = False  # a TOML table is one value of this kind

    def parse(self, value: object, *, text: bool) -> Any:
        """The typed value; ``text`` says it came from an env var or ``--set``."""
        if not isinstance(value, str):
            raise ValueError(f"expected {self.allowed}, got {_type_name(value)}")
        stripped = value.strip()
        if not stripped:
            raise ValueError("is empty")
        return stripped


@dataclass(frozen=True, slots=True)
class Notice(Kind):
    """Text that may be blank: blank means no notice (an announcement taken down)."""

    def parse(self, value: object, *, text: bool) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"expected {self.allowed}, got {_type_name(value)}")
        return value.strip()


@dataclass(frozen=True, slots=True)
class Integer(Kind):
    minimum: int | None = None
    maximum: int | None = None

    def parse(self, value: object, *, text: bool) -> Any:
        if text and isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise ValueError(f"{value!r} is not a whole number") from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {_type_name(value)} {value!r}")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"{value} is too small")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"{value} is too large")
        return value


def parse_duration(text: str) -> float:
    """Seconds from ``90``, ``1.5``, ``60s``, ``30m``, ``1h30m``, ``100ms`` or ``1d``."""
    cleaned = text.strip().lower()
    try:
        return float(cleaned)
    except ValueError:
        pass
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(cleaned):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(cleaned) or not cleaned:
        raise ValueError(f"{text!r} is not a duration")
    return total


@dataclass(frozen=True, slots=True)
class Seconds(Kind):
    minimum: float = 0.0
    positive: bool = False

    def parse(self, value: object, *, text: bool) -> Any:
        if isinstance(value, str):
            value = parse_duration(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a number of seconds, got {_type_name(value)}")
        seconds = float(value)
        if seconds != seconds or seconds in (float("inf"), float("-inf")):
            raise ValueError(f"{value!r} is not a finite number")
        if self.positive and seconds <= 0:
            raise ValueError(f"{value} must be more than 0")
        if seconds < self.minimum:
            raise ValueError(f"{value} is too small")
        return seconds


@dataclass(frozen=True, slots=True)
class ByteSize(Kind):
    """Bytes: a whole number, or one with a unit (``512k``, ``32MiB``, ``1g``)."""

    minimum: int = 1

    def parse(self, value: object, *, text: bool) -> Any:
        if isinstance(value, str):
            match = _SIZE.fullmatch(value.strip().lower())
            if match is None:
                raise ValueError(f"{value!r} is not a size")
            value = int(match.group(1)) * _SIZE_UNITS[match.group(2)[:1]]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a size in bytes, got {_type_name(value)} {value!r}")
        if value < self.minimum:
            raise ValueError(f"{value} is too small")
        return value


@dataclass(frozen=True, slots=True)
class Ratio(Kind):
    def parse(self, value: object, *, text: bool) -> Any:
        if text and isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise ValueError(f"{value!r} is not a number") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a number, got {_type_name(value)}")
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{value} is outside 0-1")
        return float(value)


@dataclass(frozen=True, slots=True)
class Boolean(Kind):
    def parse(self, value: object, *, text: bool) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError(f"{value!r} is not true or false")
        raise ValueError(f"expected true or false, got {_type_name(value)}")


@dataclass(frozen=True, slots=True)
class Choice(Kind):
    """One of ``choices``, compared lower-cased with ``-`` read as ``_``; ``aliases`` map first."""

    choices: tuple[str, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()

    def parse(self, value: object, *, text: bool) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {_type_name(value)}")
        key = value.strip().lower().replace("-", "_")
        key = dict(self.aliases).get(key, key)
        if key not in self.choices:
            raise ValueError(f"{value!r} is not a valid choice")
        return key


@dataclass(frozen=True, slots=True)
class PathValue(Kind):
    def parse(self, value: object, *, text: bool) -> Any:
        if isinstance(value, Path):
            return value
        return Path(Kind.parse(self, value, text=text))


def _items(value: object, separator: str) -> list[object]:
    if isinstance(value, str):
        return [part for part in value.split(separator) if part.strip()]
    if isinstance(value, list | tuple):
        return list(value)
    raise ValueError(f"expected a list, got {_type_name(value)}")


@dataclass(frozen=True, slots=True)
class PathList(Kind):
    def parse(self, value: object, *, text: bool) -> Any:
        items = _items(value, os.pathsep)
        out: list[Path] = []
        for item in items:
            if isinstance(item, Path):
                out.append(item)
            elif isinstance(item, str) and item.strip():
                out.append(Path(item.strip()))
            else:
                raise ValueError(f"list items must be file paths, got {_type_name(item)}")
        return tuple(out)


@dataclass(frozen=True, slots=True)
class KeyList(Kind):
    """Comma-separated text, a list, or one string (a single key)."""

    def parse(self, value: object, *, text: bool) -> Any:
        items = _items(value, ",")
        keys: list[str] = []
        for item in items:
            if not isinstance(item, str):
                raise ValueError(f"list items must be strings, got {_type_name(item)}")
            if item.strip():
                keys.append(item.strip())
        if not keys:
            raise ValueError("no key given")
        return tuple(keys)


@dataclass(frozen=True, slots=True)
class NameList(Kind):
    """Names (or patterns): comma-separated text or a list; an empty list is allowed."""

    def parse(self, value: object, *, text: bool) -> Any:
        names: list[str] = []
        for item in _items(value, ","):
            if not isinstance(item, str):
                raise ValueError(f"list items must be strings, got {_type_name(item)}")
            if item.strip():
                names.append(item.strip())
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True, slots=True)
class AliasTable(Kind):
    """``name = target`` pairs: a TOML table, or ``a=b,c=d`` text."""

    accepts_table = True

    def parse(self, value: object, *, text: bool) -> Any:
        if isinstance(value, str):
            pairs: list[tuple[object, object]] = []
            for item in _items(value, ","):
                alias, equals, aim = str(item).partition("=")
                if not equals:
                    raise ValueError(f"{str(item).strip()!r} is not alias=target")
                pairs.append((alias, aim))
        elif isinstance(value, dict):
            pairs = list(value.items())
        else:
            raise ValueError(f"expected {self.allowed}, got {_type_name(value)}")
        out: list[tuple[str, str]] = []
        for name, target in pairs:
            if not isinstance(target, str):
                raise ValueError(f"the target of {name!r} must be a string")
            if not str(name).strip() or not target.strip():
                raise ValueError(f"alias {name!r} -> {target!r}: both names are required")
            out.append((str(name).strip(), target.strip()))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Url(Kind):
    """A URL whose scheme is one of ``schemes`` (compared lower-cased) and that names a host."""

    schemes: tuple[str, ...] = ()
    needs_host: bool = True
    passthrough: tuple[str, ...] = ()

    def parse(self, value: object, *, text: bool) -> Any:
        raw: str = Kind.parse(self, value, text=text)
        if raw.lower() in self.passthrough:
            return raw.lower()
        try:
            parts = urlsplit(raw)
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError as exc:
            raise ValueError(f"not a valid URL ({exc})") from None
        if parts.scheme.lower() not in self.schemes:
            shown = parts.scheme or "(none)"
            raise ValueError(f"scheme {shown!r} is not supported")
        if self.needs_host and not parts.hostname:
            raise ValueError("the URL names no host")
        return raw


@dataclass(frozen=True, slots=True)
class Region(Kind):
    def parse(self, value: object, *, text: bool) -> Any:
        region: str = Kind.parse(self, value, text=text)
        if not _REGION.fullmatch(region):
            raise ValueError(f"{region!r} does not look like an AWS region")
        return region


@dataclass(frozen=True, slots=True)
class MachineId(Kind):
    def parse(self, value: object, *, text: bool) -> Any:
        raw: str = Kind.parse(self, value, text=text)
        if _HEX64.fullmatch(raw) or _HEX32.fullmatch(raw.replace("-", "")):
            return raw
        raise ValueError(f"{raw!r} is neither 64 hex characters nor a UUID")


@dataclass(frozen=True, slots=True)
class NetworkList(Kind):
    """Addresses or CIDR networks (IPv4 or IPv6): a list, or comma-separated text; may be empty."""

    def parse(self, value: object, *, text: bool) -> Any:
        import ipaddress

        out: list[str] = []
        for item in _items(value, ","):
            if not isinstance(item, str):
                raise ValueError(f"list items must be strings, got {_type_name(item)}")
            try:
                network = ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{item.strip()!r} is not an address or a CIDR network") from None
            out.append(str(network))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class UrlList(Kind):
    """URLs of :attr:`item`'s kind: a list, or comma-separated text; may be empty."""

    item: Url = Url()

    def parse(self, value: object, *, text: bool) -> Any:
        return tuple(self.item.parse(entry, text=text) for entry in _items(value, ","))
