"""``config show`` (effective settings and where each came from), ``config check`` (every
error of a file), ``config init`` (a commented starter file) and ``doctor``."""

from __future__ import annotations

import argparse
import os
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kirogate.cli.command_kit import (
    COMMON_FLAGS,
    EXIT_OK,
    EXIT_USAGE,
    FAIL_MARK,
    OK_MARK,
    WARN_MARK,
    CliError,
    add_config_options,
    add_json_option,
    add_set_option,
    console,
    load,
    mask,
    overrides_from,
    print_json,
    say,
)

DOCTOR_FLAGS = {
    "host": "server.host",
    "port": "server.port",
    "credentials": "credentials_files",
    "kiro_file": "kiro_files",
    "kiro_cli_db": "kiro_cli_dbs",
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
    init = actions.add_parser(
        "init",
        help="write a commented starter config (every setting, with its default)",
        description="Write a starter config.toml listing every setting, commented out, with its "
        "default, env vars and flag. The file is created with mode 0600: it may hold keys.",
    )
    init.add_argument("file", nargs="?", type=Path, help="default: the file `serve` would read")
    add_config_options(init)
    init.add_argument("--force", action="store_true", help="replace the file if it exists")
    init.set_defaults(handler=cmd_init)

    doctor = commands.add_parser(
        "doctor",
        help="check token files, expiry, clock skew, upstream reachability, ports and database",
    )
    add_config_options(doctor)
    doctor.add_argument("--host", help="address the gateway will listen on")
    doctor.add_argument("-p", "--port", type=int, help="port the gateway will listen on")
    doctor.add_argument("--credentials", action="append", type=Path, metavar="FILE")
    doctor.add_argument("-f", "--kiro-file", action="append", type=Path, metavar="FILE")
    doctor.add_argument("--kiro-cli-db", action="append", type=Path, metavar="FILE")
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
        if isinstance(value, tuple):
            return [redact_url(str(item)) for item in value]
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


def tilde(path: Path) -> str:
    """``path`` with the home directory written as ``~``."""
    home = os.environ.get("HOME")
    if home:
        try:
            return "~/" + path.relative_to(home).as_posix()
        except ValueError:
            pass
    return str(path)


def generated_value(key: str, data_dir: Path, shown: Any) -> tuple[Any, str] | None:
    """(masked value, origin) of a secret kirogate generates into the data dir when unset;
    ``shown`` (the unset value) stays until the file exists."""
    from kirogate.serve import API_KEY_FILE

    files = {
        "server.api_keys": (API_KEY_FILE, "by the first `kirogate serve`"),
        "secret_key": ("secret.key", "when the store is first opened"),
    }
    if key not in files:
        return None
    name, when = files[key]
    path = data_dir / name
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError:
        secret = ""
    if not secret:
        return shown, f"generated {when}, kept in {tilde(path)}"
    value: Any = [mask(secret)] if key == "server.api_keys" else mask(secret)
    return value, f"generated, kept in {tilde(path)}"


def _rows(loaded: Any) -> list[tuple[Any, Any, str]]:
    from kirogate.settings import SPECS

    rows = []
    data_dir = loaded.settings.data_path
    for spec in SPECS:
        value = shown_value(loaded.value(spec.key), spec.secret)
        origin = loaded.origins[spec.key]
        generated = generated_value(spec.key, data_dir, value) if origin.kind == "default" else None
        if generated is not None:
            value, shown_origin = generated
        else:
            shown_origin = str(origin)
        rows.append((spec, value, shown_origin))
    return rows


def with_stored_runtime(loaded: Any) -> Any:
    """``loaded`` with the runtime values the admin API stored laid over it (origin
    ``runtime``), as ``serve`` starts with them."""
    import asyncio
    from dataclasses import replace

    from kirogate.service.runtime_settings import stored_runtime_values
    from kirogate.settings.runtime import with_runtime

    values = asyncio.run(stored_runtime_values(loaded.settings))
    if not values:
        return loaded
    settings = with_runtime(loaded.settings, values)
    return replace(loaded, settings=settings, origins=settings.origins)


STORE_WAIT = 5.0  # seconds config show waits for the store before leaving the proxies out


def credential_proxies(settings: Any) -> list[dict[str, Any]] | None:
    """Which proxy each stored credential uses (masked); ``None`` when there is no store yet
    (``config show`` never creates one) or it cannot be opened."""
    import asyncio

    from kirogate.errors import KirogateError
    from kirogate.service.operations import Operations

    if settings.database_url is None and not (settings.data_path / "kirogate.db").exists():
        return None

    async def read() -> list[dict[str, Any]]:
        async with Operations.open(settings) as operations:
            return await operations.credential_routes(settings, os.environ)

    try:
        return asyncio.run(asyncio.wait_for(read(), STORE_WAIT))
    except (KirogateError, OSError, TimeoutError):
        return None


def cmd_show(args: argparse.Namespace) -> int:
    loaded = with_stored_runtime(load(args))
    rows = _rows(loaded)
    routes = credential_proxies(loaded.settings)
    if args.json:
        print_json(
            {
                "config_file": str(loaded.config_file) if loaded.config_file else None,
                "settings": {
                    spec.key: {"value": value, "origin": str(origin), "env": list(spec.env)}
                    for spec, value, origin in rows
                },
                "credential_proxies": routes,
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
        style = "dim" if origin == "default" else ""
        table.add_row(spec.key, _text(value), origin, style=style)
    out = console()
    out.print(table)
    source = loaded.config_file or "none (using env, flags and defaults)"
    out.print(f"config file: {source}", markup=False)
    out.print("precedence: runtime (admin API) > flag > env > config file > default", markup=False)
    if routes:
        proxies = Table(title="credential proxies", title_justify="left")
        proxies.add_column("credential", no_wrap=True)
        proxies.add_column("proxy", overflow="fold")
        for row in routes:
            proxies.add_row(f"#{row['id']} {row['label']}", row["proxy"])
        out.print(proxies)
    for note in loaded.notes:
        say(WARN_MARK, note)
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from kirogate.settings import BY_KEY, check_config_file, locate_config_file

    path = args.file
    if path is None:
        overrides = overrides_from(args, COMMON_FLAGS)
        path, data_dir = locate_config_file(os.environ, overrides, args.config)
        if path is None:
            say(WARN_MARK, f"no config file: neither --config, KIROGATE_CONFIG nor "
                f"{data_dir / 'config.toml'}; kirogate runs on env, flags and defaults")  # fmt: skip
            return EXIT_OK
    # Validate the file's values alone: no env, no flags.
    checked = check_config_file(path)
    parsed = checked.file
    values = {
        key: shown_value(checked.values[key], BY_KEY[key].secret) for key in sorted(checked.values)
    }
    notes = list(parsed.notes) if parsed is not None else []
    if args.json:
        print_json({"file": str(path), "format": parsed.format if parsed else None,
                    "valid": checked.valid, "errors": [str(e) for e in checked.errors],
                    "settings": values, "notes": notes})  # fmt: skip
        return EXIT_OK if checked.valid else EXIT_USAGE
    if not checked.valid:
        count = len(checked.errors)
        say(FAIL_MARK, f"{path} has {count} error{'s' if count != 1 else ''}", err=True)
        for error in checked.errors:
            say("", f"  {error}", err=True)
        return EXIT_USAGE
    assert parsed is not None
    say(OK_MARK, f"{path} is a valid {parsed.format} config ({len(values)} settings)")
    for key, value in values.items():
        say("", f"  {key} = {_text(value)}")
    for note in notes:
        say(WARN_MARK, note)
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from kirogate.settings import locate_config_file
    from kirogate.settings.starter import STARTER_MODE, starter_config

    path = args.file or args.config
    if path is None:
        overrides = overrides_from(args, COMMON_FLAGS)
        found, data_dir = locate_config_file(os.environ, overrides, None)
        path = found or data_dir / "config.toml"
    path = Path(os.path.expanduser(path))
    if path.suffix.lower() == ".json":
        raise CliError(f"{path}: config init writes TOML; name a .toml file", EXIT_USAGE)
    if path.exists() and not args.force:
        raise CliError(f"{path} exists; pass --force to replace it", EXIT_USAGE)
    write_private(path, starter_config(), STARTER_MODE)
    say(OK_MARK, f"wrote {path} (mode {STARTER_MODE:04o}): every setting, commented out")
    say("", "  uncomment what you change; `kirogate config check` validates it")
    return EXIT_OK


def write_private(path: Path, text: str, mode: int) -> None:
    """Write ``text`` to ``path`` atomically, the file never readable beyond ``mode``."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def cmd_doctor(args: argparse.Namespace) -> int:
    loaded = load(args, DOCTOR_FLAGS)
    try:
        from kirogate.doctor import run_doctor
    except ImportError as exc:
        raise CliError(f"doctor is not available in this installation ({exc})", EXIT_USAGE) from exc
    return int(run_doctor(loaded.settings, os.environ, json_output=args.json))
