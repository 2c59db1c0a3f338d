"""The ``kirogate`` command line (``docs/cli.md``).

Each command lives in a module of its own; heavy imports happen inside the command functions
so ``kirogate --help`` stays instant. Exit codes: 0 ok, 1 failure, 2 usage or configuration
error, 3 not running (``status``, ``stop``), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from kirogate import __version__
from kirogate.cli.command_kit import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    FAIL_MARK,
    CliError,
    say,
)
from kirogate.errors import ConfigError, KirogateError

__all__ = ["build_parser", "main"]

# The module that defines each command's parser, in the order of ``kirogate --help``. A known
# command loads only its own module: ``kirogate serve`` keeps no other command in memory.
_MODULES = ("server", "smoke", "login", "accounts", "keys", "config")
_COMMAND_MODULES = {
    "serve": "server",
    "status": "server",
    "stop": "server",
    "restart": "server",
    "test": "smoke",
    "login": "login",
    "accounts": "accounts",
    "keys": "keys",
    "config": "config",
    "doctor": "config",
}


def _add_emulator_parser(commands: Any) -> None:
    emu = commands.add_parser(
        "emulator",
        help="run the Kiro upstream emulator",
        description=(
            "Run a faithful fake of the Kiro upstream (event streams, tool calls, thinking, "
            "errors, token refresh, OIDC login, usage limits) for tests, demos and benchmarks."
        ),
    )
    emu.add_argument("--host", default="127.0.0.1", help="address to listen on")
    emu.add_argument("-p", "--port", type=int, default=9000, help="port (default 9000)")
    emu.add_argument(
        "--no-profile-arn",
        action="store_true",
        help="behave like the older q.* host: no profileArn required",
    )
    emu.add_argument("--first-event-delay", type=float, default=0.0, metavar="SECONDS")
    emu.add_argument("--event-delay", type=float, default=0.0, metavar="SECONDS")
    emu.add_argument("--chunk-count", type=int, metavar="N", help="reply with N text chunks")
    emu.add_argument("--chunk-size", type=int, metavar="CHARS", help="characters per chunk")
    emu.add_argument("--seed", type=int, default=0, help="seed for random chunking")
    emu.add_argument(
        "--plan",
        default="KIRO FREE",
        metavar="TITLE",
        help="new accounts' subscription title (default 'KIRO FREE', which has no Opus)",
    )
    emu.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a throwaway self-signed certificate (its path is printed: "
        "trust it with SSL_CERT_FILE)",
    )
    emu.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate")
    emu.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
    emu.set_defaults(handler=_cmd_emulator)


def _add_demo_parser(commands: Any) -> None:
    demo = commands.add_parser(
        "demo",
        help="run an emulator and a gateway together, with ready-to-paste client settings",
        description="Start a Kiro emulator and a gateway so you can try kirogate without a Kiro account.",
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("-p", "--port", type=int, help="gateway port (default: a free one)")
    demo.set_defaults(handler=_cmd_demo)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or with ``command`` (a name from ``argv``) only what that command needs."""
    parser = argparse.ArgumentParser(
        prog="kirogate",
        description="Anthropic- and OpenAI-compatible gateway for Kiro credentials.",
        epilog="Exit codes: 0 ok, 1 failure, 2 usage or configuration error, 3 not running.",
    )
    parser.add_argument("--version", action="version", version=f"kirogate {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    owner = _COMMAND_MODULES.get(command or "")
    if owner is not None:
        _add_module_parsers(owner, commands)
        return parser
    if command == "emulator":
        _add_emulator_parser(commands)
        return parser
    if command == "demo":
        _add_demo_parser(commands)
        return parser
    for name in _MODULES:
        _add_module_parsers(name, commands)
    _add_emulator_parser(commands)
    _add_demo_parser(commands)
    return parser


def _add_module_parsers(name: str, commands: Any) -> None:
    module = importlib.import_module(f"kirogate.cli.{name}")
    register = getattr(module, "add_parsers", None) or module.add_parser
    register(commands)


def _cmd_emulator(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from kirogate.emulator.app import run_emulator
    from kirogate.emulator.config import EmulatorConfig, Pacing
    from kirogate.emulator.tls import TlsFiles, write_self_signed

    if bool(args.tls_cert) != bool(args.tls_key):
        raise CliError("--tls-cert and --tls-key go together", EXIT_USAGE)
    # The throwaway certificate and its key are removed when the emulator stops.
    with tempfile.TemporaryDirectory(prefix="kirogate-emulator-") as tmp:
        tls = None
        if args.tls_cert:
            tls = TlsFiles(cert=Path(args.tls_cert), key=Path(args.tls_key))
        elif args.tls:
            tls = write_self_signed(Path(tmp))
            print(f"throwaway certificate: trust it with SSL_CERT_FILE={tls.cert}", flush=True)
        emulator_config = EmulatorConfig(
            host=args.host,
            port=args.port,
            require_profile_arn=not args.no_profile_arn,
            seed=args.seed,
            plan=args.plan,
            pacing=Pacing(
                first_event_delay=args.first_event_delay,
                event_delay=args.event_delay,
                chunk_count=args.chunk_count,
                chunk_size=args.chunk_size,
            ),
            tls=tls,
        )
        url = f"{emulator_config.scheme}://{args.host}:{args.port}"
        print(f"kirogate emulator listening on {url}", flush=True)
        run_emulator(emulator_config)
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from kirogate.demo import run_demo

    return run_demo(args.host, args.port)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(arguments[0] if arguments else None)
    args = parser.parse_args(arguments)
    args.argv = arguments
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.handler(args))
    except CliError as exc:
        say(FAIL_MARK, exc.message, err=True)
        return exc.code
    except ConfigError as exc:
        say(FAIL_MARK, str(exc), err=True)
        return EXIT_USAGE
    except KirogateError as exc:
        say(FAIL_MARK, str(exc), err=True)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
