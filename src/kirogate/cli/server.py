"""``serve`` (foreground or ``--daemon``) and the parsers of ``status``, ``stop``, ``restart``.

The daemon commands themselves live in :mod:`kirogate.cli.control`. ``serve`` also takes the AIClient-2-API start-script flags: ``-s/--status``, ``-t/--test`` and
``--stop`` act like the subcommands, ``-l/--log-mode console|file`` picks where logs go.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from kirogate.cli.command_kit import (
    EXIT_OK,
    OK_MARK,
    WARN_MARK,
    CliError,
    add_address_options,
    add_config_options,
    add_json_option,
    add_set_option,
    console,
    load,
    run,
    say,
    show_notes,
)
from kirogate.cli.confirm import add_yes_option
from kirogate.cli.control import cmd_restart, cmd_status, cmd_stop
from kirogate.cli.serve_flags import DAEMON_CHILD, SERVE_FLAGS, child_argv
from kirogate.errors import DaemonError


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--host", help="address to listen on (default 127.0.0.1)")
    add("-p", "--port", type=int, help="port to listen on (default 8990)")
    add(
        "-k",
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="client API key (x-api-key or Authorization: Bearer); repeatable",
    )
    add("--admin-key", metavar="KEY", help="the admin API's key (default: generated, data dir)")
    add(
        "--no-admin",
        dest="admin",
        action="store_false",
        default=None,
        help="turn the admin API off (it is on by default, with a generated key)",
    )
    add(
        "-f",
        "--kiro-file",
        action="append",
        type=Path,
        metavar="FILE",
        help="Kiro IDE token file (default ~/.aws/sso/cache/kiro-auth-token.json); repeatable",
    )
    add(
        "--kiro-cli-db",
        action="append",
        type=Path,
        metavar="FILE",
        help="kiro-cli / Amazon Q CLI token database (~/.local/share/kiro-cli/data.sqlite3), "
        "read-only; repeatable",
    )
    add(
        "--credentials",
        action="append",
        type=Path,
        metavar="FILE",
        help="kiro.rs-style credentials.json (object or array); repeatable",
    )
    add_config_options(parser)
    add("--log-level", metavar="LEVEL", help="debug, info, warning or error (default info)")
    add(
        "-l",
        "--log-mode",
        choices=["console", "file"],
        help="AIClient-2-API compatible: console, or file (<data-dir>/kirogate.log)",
    )
    add("--log-format", metavar="FORMAT", help="text or json (default text)")
    add("--log-file", type=Path, metavar="FILE", help="write logs to FILE (0600) instead of stderr")
    add("--upstream-url", metavar="URL", help="send every upstream call here (an emulator)")
    add("--database-url", metavar="URL", help="sqlite:///PATH or postgresql://... (default SQLite)")
    add("--redis-url", metavar="URL", help="redis://... for several processes")
    add("--workers", type=int, metavar="N", help="worker processes (default 1)")
    add("--pool-mode", metavar="MODE", help="priority, balanced, round_robin, random or weighted")
    add(
        "--first-token-timeout",
        type=float,
        metavar="SECONDS",
        help="retry an upstream attempt with no first event after this long (default 90)",
    )
    add(
        "--stream-idle-timeout",
        type=float,
        metavar="SECONDS",
        help="end a stream that has been silent this long mid-answer (default 300)",
    )
    add(
        "--cache-estimate",
        action="store_true",
        default=None,
        help="estimate prompt-cache reads from recently seen prefixes (default: report 0)",
    )
    add("--max-body-size", metavar="SIZE", help="refuse larger request bodies (default 32MiB)")
    add(
        "--shutdown-grace",
        metavar="SECONDS",
        help="on SIGTERM, let answers in flight finish for this long (default 20)",
    )
    add_set_option(parser)
    add("-d", "--daemon", action="store_true", help="run in the background (PID and log file)")
    add(DAEMON_CHILD, action="store_true", help=argparse.SUPPRESS)
    add("--stop-timeout", type=float, help=argparse.SUPPRESS)  # fmt: skip


def add_parsers(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the gateway",
        description="Run the gateway: Anthropic and OpenAI APIs backed by Kiro credentials.",
    )
    add_serve_options(serve)
    compat = serve.add_argument_group("start-script compatibility (AIClient-2-API)")
    compat.add_argument("-s", "--status", action="store_true", help="same as `kirogate status`")
    compat.add_argument("-t", "--test", action="store_true", help="same as `kirogate test`")
    compat.add_argument("--stop", action="store_true", help="same as `kirogate stop`")
    add_yes_option(compat)
    serve.set_defaults(handler=cmd_serve)

    status = commands.add_parser("status", help="is the background gateway running?")
    add_config_options(status)
    add_address_options(status)
    add_json_option(status)
    status.set_defaults(handler=cmd_status)

    stop = commands.add_parser("stop", help="stop the background gateway")
    add_config_options(stop)
    stop.add_argument("--timeout", type=float, dest="stop_timeout",
                      help="seconds to wait after SIGTERM before SIGKILL (default: the "
                      "shutdown grace period + 14)")  # fmt: skip
    add_yes_option(stop)
    stop.set_defaults(handler=cmd_stop)

    restart = commands.add_parser(
        "restart",
        help="stop the background gateway and start it again",
        description="Stop the daemon and start it again, with the serve options given here or, "
        "without any, those it was started with.",
    )
    add_serve_options(restart)
    add_yes_option(restart)
    restart.set_defaults(handler=cmd_restart)


# ---------------------------------------------------------------- serve


def cmd_serve(args: argparse.Namespace) -> int:
    if getattr(args, "status", False):
        return cmd_status(args)
    if getattr(args, "test", False):
        from kirogate.cli.smoke import cmd_test

        return cmd_test(args)
    if getattr(args, "stop", False):
        return cmd_stop(args)
    loaded = load(args, SERVE_FLAGS)
    show_notes(loaded)
    settings = loaded.settings
    if args.log_mode == "file" and settings.log_file is None:
        settings = replace(settings, log_file=settings.data_path / "kirogate.log")
    if args.daemon:
        return start_daemon(args, settings)
    from kirogate import daemon
    from kirogate.serve import run_server

    _check_port(settings)
    if not args.daemon_child:
        return run_server(settings, os.environ)
    with daemon.pid_file_guard(settings.data_path):
        return run_server(settings, os.environ)


def _check_port(settings: Any) -> None:
    """The busy-port error, naming our own daemon when it is the one holding the port."""
    from kirogate import daemon
    from kirogate.errors import ConfigError
    from kirogate.serve import check_port_free

    try:
        check_port_free(settings.server.host, settings.server.port)
    except ConfigError as exc:
        running = daemon.find_running(settings.data_path)
        if running.pid is not None and running.pid != os.getpid():
            raise CliError(
                f"{exc}\nkirogate is already running in the background (pid {running.pid}); "
                "see `kirogate status`, or stop it with `kirogate stop`",
                2,
            ) from None
        raise


def start_daemon(args: argparse.Namespace, settings: Any) -> int:
    from kirogate import daemon

    data_dir: Path = settings.data_path
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    running = daemon.find_running(data_dir)
    if running.pid is not None:
        where = f" at {running.state.url}" if running.state else ""
        raise CliError(
            f"kirogate is already running (pid {running.pid}{where}); "
            "stop it with `kirogate stop` or use `kirogate restart`"
        )
    if running.stale_pid is not None:
        say(WARN_MARK, f"replacing a stale PID file (process {running.stale_pid} is gone)")
    _check_port(settings)
    log_file = settings.log_file or data_dir / daemon.LOG_FILE
    argv = child_argv(list(args.argv))
    url = daemon.base_url(settings.server.host, settings.server.port)
    proc = daemon.spawn(
        [*argv, DAEMON_CHILD], data_dir=data_dir, log_file=log_file, environ=os.environ
    )
    state = daemon.DaemonState(proc.pid, url, time.time(), str(log_file), argv, os.getcwd())
    daemon.write_state(data_dir, state)
    try:
        run(daemon.wait_healthy(f"{url}/health", proc))
    except DaemonError as exc:
        if proc.poll() is None:
            daemon.stop_process(proc.pid, timeout=5)
        daemon.remove_pid_file(data_dir, proc.pid)
        tail = daemon.log_tail(log_file)
        detail = f"\n--- the end of {log_file} ---\n{tail}" if tail else ""
        raise CliError(f"{exc}{detail}") from None
    out = console()
    say(OK_MARK, f"kirogate is running in the background at {url} (pid {proc.pid})")
    out.print(f"  log:     {log_file}", markup=False)
    if settings.server.api_keys:
        out.print("  API key: the one you configured", markup=False)
    else:
        out.print(f"  API key: saved in {data_dir / 'api_key'}", markup=False)
    out.print("  status:  kirogate status    stop: kirogate stop", markup=False)
    return EXIT_OK
