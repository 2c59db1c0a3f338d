"""The ``kirogate`` command line.

``kirogate serve`` runs the gateway, ``kirogate emulator`` runs the fake Kiro upstream.
Heavy imports happen inside the commands so ``kirogate --help`` stays instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kirogate import __version__
from kirogate.errors import ConfigError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def _add_serve_parser(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the gateway",
        description="Run the gateway: Anthropic and OpenAI APIs backed by Kiro credentials.",
    )
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("-p", "--port", type=int, help="port to listen on (default 8990)")
    serve.add_argument(
        "-k",
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="client API key (x-api-key or Authorization: Bearer); repeat for several",
    )
    serve.add_argument(
        "--credentials",
        action="append",
        type=Path,
        metavar="FILE",
        help="kiro.rs-style credentials.json (object or array); repeatable",
    )
    serve.add_argument(
        "-f",
        "--kiro-file",
        action="append",
        type=Path,
        metavar="FILE",
        help="Kiro IDE token file (default ~/.aws/sso/cache/kiro-auth-token.json)",
    )
    serve.add_argument(
        "--upstream-url",
        metavar="URL",
        help="send every upstream call to this base URL (e.g. a kirogate emulator)",
    )
    serve.add_argument("--data-dir", type=Path, help="data directory (default ~/.kirogate)")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.add_argument(
        "--first-token-timeout",
        type=float,
        metavar="SECONDS",
        help="give up on an upstream attempt with no first event after this long (default 90)",
    )
    serve.add_argument(
        "--stream-idle-timeout",
        type=float,
        metavar="SECONDS",
        help="end a stream that has been silent this long mid-answer (default 300)",
    )
    serve.set_defaults(handler=_cmd_serve)


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
    emu.set_defaults(handler=_cmd_emulator)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kirogate",
        description="Anthropic- and OpenAI-compatible gateway for Kiro credentials.",
    )
    parser.add_argument("--version", action="version", version=f"kirogate {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_serve_parser(commands)
    _add_emulator_parser(commands)
    demo = commands.add_parser(
        "demo",
        help="run an emulator and a gateway together, with ready-to-paste client settings",
        description="Start a Kiro emulator and a gateway so you can try kirogate without a Kiro account.",
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("-p", "--port", type=int, help="gateway port (default: a free one)")
    demo.set_defaults(handler=_cmd_demo)
    return parser


def _cmd_serve(args: argparse.Namespace) -> int:
    from kirogate.serve import run_server
    from kirogate.settings import load_settings

    overrides = {
        "server.host": args.host,
        "server.port": args.port,
        "server.api_keys": tuple(args.api_keys) if args.api_keys else None,
        "upstream.url": args.upstream_url,
        "upstream.first_token_timeout": args.first_token_timeout,
        "upstream.stream_idle_timeout": args.stream_idle_timeout,
        "data_dir": args.data_dir,
        "credentials_files": tuple(args.credentials) if args.credentials else None,
        "kiro_files": tuple(args.kiro_file) if args.kiro_file else None,
        "log_level": args.log_level,
    }
    settings = load_settings(os.environ, overrides)
    return run_server(settings, os.environ)


def _cmd_emulator(args: argparse.Namespace) -> int:
    from kirogate.emulator.app import run_emulator
    from kirogate.emulator.config import EmulatorConfig, Pacing

    config = EmulatorConfig(
        host=args.host,
        port=args.port,
        require_profile_arn=not args.no_profile_arn,
        seed=args.seed,
        pacing=Pacing(
            first_event_delay=args.first_event_delay,
            event_delay=args.event_delay,
            chunk_count=args.chunk_count,
            chunk_size=args.chunk_size,
        ),
    )
    print(f"kirogate emulator listening on http://{args.host}:{args.port}", flush=True)
    run_emulator(config)
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from kirogate.demo import run_demo

    return run_demo(args.host, args.port)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(f"kirogate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
