"""``config show`` (effective settings and where each came from), ``config check`` and ``doctor``."""

from __future__ import annotations

import argparse
import os
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kirogate.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    OK_MARK,
    WARN_MARK,
    CliError,
    add_config_options,
    add_json_option,
    add_set_option,
    console,
    load,
    mask,
    print_json,
    say,
)

DOCTOR_FLAGS = {
    "host": "server.host",
    "port": "server.port",
    "credentials": "credentials_files",
    "kiro_file": "kiro_files",
    "upstream_url": "upstream.url",
    "database_url": "database_url",
    "redis_url": "redis_url",
}


def add_parsers(commands: Any) -> None:
    cfg = commands.add_parser("config", help="show or check the configuration")
    actions = cfg.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = actions.add_parser(
        "show", help="the effective settings, where each value came from, secrets masked"
    )
    add_config_options(show)
    add_set_option(show)
    add_json_option(show)
    show.set_defaults(handler=cmd_show)
    check = actions.add_parser("check", help="validate a config file (exit 2 when it is not)")
    check.add_argument("file", nargs="?", type=Path, help="default: the file `serve` would read")
    add_config_options(check)
    add_json_option(check)
    check.set_defaults(handler=cmd_check)

    doctor = commands.add_parser(
        "doctor",
        help="check token files, expiry, clock skew, upstream reachability, ports and database",
    )
    add_config_options(doctor)
    doctor.add_argument("--host", help="address the gateway will listen on")
    doctor.add_argument("-p", "--port", type=int, help="port the gateway will listen on")
    doctor.add_argument("--credentials", action="append", type=Path, metavar="FILE")
    doctor.add_argument("-f", "--kiro-file", action="append", type=Path, metavar="FILE")
    doctor.add_argument("--upstream-url", metavar="URL")
    doctor.add_argument("--database-url", metavar="URL")
    doctor.add_argument("--redis-url", metavar="URL")
    add_set_option(doctor)
    add_json_option(doctor)
    doctor.set_defaults(handler=cmd_doctor)


def redact_url(url: str) -> str:
    """``scheme://user:***@host/...``: a URL's password masked, the rest kept."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    if not parts.password:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def shown_value(value: Any, secret: str | None) -> Any:
    """A JSON-ready value with secrets masked (never the whole secret)."""
    if value is None:
        return None
    if secret == "key":
        return [mask(v) for v in value] if isinstance(value, tuple) else mask(str(value))
    if secret == "url":
        return redact_url(str(value))
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [shown_value(item, None) for item in value]
    return value


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def cmd_show(args: argparse.Namespace) -> int:
    from kirogate.settings import SPECS

    loaded = load(args)
    rows = [
        (spec, shown_value(loaded.value(spec.key), spec.secret), loaded.origins[spec.key])
        for spec in SPECS
    ]
    if args.json:
        print_json(
            {
                "config_file": str(loaded.config_file) if loaded.config_file else None,
                "settings": {
                    spec.key: {"value": value, "origin": str(origin), "env": list(spec.env)}
                    for spec, value, origin in rows
                },
                "notes": list(loaded.notes),
            }
        )
        return EXIT_OK
    from rich.table import Table

    table = Table(title="kirogate settings", title_justify="left")
    table.add_column("setting", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("origin", overflow="fold")
    for spec, value, origin in rows:
        style = "dim" if origin.kind == "default" else ""
        table.add_row(spec.key, _text(value), str(origin), style=style)
    out = console()
    out.print(table)
    source = loaded.config_file or "none (using env, flags and defaults)"
    out.print(f"config file: {source}", markup=False)
    out.print("precedence: flag > env > config file > default", markup=False)
    for note in loaded.notes:
        say(WARN_MARK, note)
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from kirogate.settings import BY_KEY, find_config_file, read_config_file, resolve_settings

    settings = load(args).settings if args.file is None else None
    path = args.file
    if path is None:
        assert settings is not None
        path, _ = find_config_file(os.environ, args.config, settings.data_dir)
        if path is None:
            say(WARN_MARK, f"no config file: neither --config, KIROGATE_CONFIG nor "
                f"{settings.data_path / 'config.toml'}; kirogate runs on env, flags and defaults")  # fmt: skip
            return EXIT_OK
    parsed = read_config_file(path)
    # Validate the file's values alone: no env, no flags.
    loaded = resolve_settings({}, None, config_file=path)
    values = {
        key: shown_value(loaded.value(key), BY_KEY[key].secret) for key in sorted(parsed.values)
    }
    if args.json:
        print_json({"file": str(path), "format": parsed.format, "valid": True,
                    "settings": values, "notes": list(loaded.notes)})  # fmt: skip
        return EXIT_OK
    say(OK_MARK, f"{path} is a valid {parsed.format} config ({len(values)} settings)")
    for key, value in values.items():
        say("", f"  {key} = {_text(value)}")
    for note in loaded.notes:
        say(WARN_MARK, note)
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    loaded = load(args, DOCTOR_FLAGS)
    try:
        from kirogate.doctor import run_doctor
    except ImportError as exc:
        raise CliError(f"doctor is not available in this installation ({exc})", EXIT_USAGE) from exc
    return int(run_doctor(loaded.settings, os.environ, json_output=args.json))
