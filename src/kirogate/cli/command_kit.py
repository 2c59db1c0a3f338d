"""What every command shares: exit codes, settings from flags, output (rich or JSON), masking."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from rich.console import Console

    from kirogate.settings import LoadedSettings

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_RUNNING = 3
EXIT_INTERRUPTED = 130

OK_MARK = "[green]✓[/green]"
FAIL_MARK = "[red]✗[/red]"
WARN_MARK = "[yellow]![/yellow]"

T = TypeVar("T")


class CliError(Exception):
    """Ends the command with ``message`` on stderr and exit ``code``."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


_consoles: dict[str, Console] = {}


def console() -> Console:
    """The stdout console (colours only on a terminal)."""
    if "out" not in _consoles:
        from rich.console import Console

        _consoles["out"] = Console(highlight=False, soft_wrap=True)
    return _consoles["out"]


def err_console() -> Console:
    if "err" not in _consoles:
        from rich.console import Console

        _consoles["err"] = Console(stderr=True, highlight=False, soft_wrap=True)
    return _consoles["err"]


def print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def mask(value: str | None) -> str:
    from kirogate.upstream.credentials import mask_secret

    return mask_secret(value) or ""


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="config file: TOML, or a kiro.rs config.json (default <data-dir>/config.toml)",
    )
    parser.add_argument("--data-dir", type=Path, metavar="DIR", help="default ~/.kirogate")


def store_action(actions: Any, name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
    """A subcommand that works on the store: the config options, ``--database-url``, and
    ``handler`` to run it."""
    parser: argparse.ArgumentParser = actions.add_parser(name, help=help_text)
    add_config_options(parser)
    parser.add_argument("--database-url", metavar="URL", help="the store (default SQLite)")
    parser.set_defaults(handler=handler)
    return parser


def add_address_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="the gateway's address (default: from the PID file)")
    parser.add_argument("-p", "--port", type=int, help="the gateway's port")


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="set_values",
        help="any setting by its key, e.g. --set pool.mode=balanced (repeatable)",
    )


def overrides_from(args: argparse.Namespace, flags: Mapping[str, str]) -> dict[str, Any]:
    """``{setting key: value}`` for the flags in ``flags`` (``dest -> key``) that were given."""
    from kirogate.settings import Override

    out: dict[str, Any] = {}
    for item in getattr(args, "set_values", None) or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--set {item!r}: use KEY=VALUE, e.g. --set pool.mode=balanced", 2)
        out[key.strip()] = Override(value, f"--set {key.strip()}", text=True)
    for dest, key in flags.items():
        value = getattr(args, dest, None)
        if value is None or value == []:
            continue
        if isinstance(value, list):
            value = tuple(value)
        out[key] = value
    return out


COMMON_FLAGS = {"data_dir": "data_dir"}


def load(args: argparse.Namespace, flags: Mapping[str, str] | None = None) -> LoadedSettings:
    """Resolve settings from this command's flags, the environment and the config file."""
    from kirogate.settings import resolve_settings

    overrides = overrides_from(args, {**COMMON_FLAGS, **(flags or {})})
    return resolve_settings(os.environ, overrides, config_file=getattr(args, "config", None))


def say(mark: str, text: str, *, err: bool = False) -> None:
    """One ``mark text`` line; ``text`` is printed literally (no rich markup)."""
    from rich.markup import escape

    (err_console() if err else console()).print(f"{mark} {escape(text)}" if mark else escape(text))


def show_notes(loaded: LoadedSettings) -> None:
    for note in loaded.notes:
        say(WARN_MARK, note, err=True)
