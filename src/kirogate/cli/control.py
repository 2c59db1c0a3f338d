"""``status``, ``stop`` and ``restart``: find the daemon by its PID file, probe it, stop it.

Stopping (``stop``, ``serve --stop``, ``restart``) cuts every request in flight, so it asks
first (:mod:`kirogate.cli.confirm`: ``-y/--yes`` in scripts).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from kirogate.cli.command_kit import (
    EXIT_FAILURE,
    EXIT_NOT_RUNNING,
    EXIT_OK,
    FAIL_MARK,
    OK_MARK,
    WARN_MARK,
    load,
    print_json,
    run,
    say,
)
from kirogate.cli.confirm import confirm

ADDRESS_FLAGS = {"host": "server.host", "port": "server.port"}
# Seconds ``stop`` allows past uvicorn's graceful timeout: the gateway closes its store.
STOP_CLOSE_TIME = 10.0


def locate(args: argparse.Namespace) -> tuple[Any, str, Any]:
    """(settings, URL to probe, running) for status/stop/test."""
    from kirogate import daemon

    loaded = load(args, ADDRESS_FLAGS)
    settings = loaded.settings
    running = daemon.find_running(settings.data_path)
    explicit = getattr(args, "host", None) is not None or getattr(args, "port", None) is not None
    if running.state is not None and not explicit:
        url = running.state.url
    else:
        url = daemon.base_url(settings.server.host, settings.server.port)
    return settings, url, running


async def _probe(url: str) -> dict[str, Any]:
    import aiohttp

    out: dict[str, Any] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        for name in ("health", "ready"):
            try:
                async with session.get(f"{url}/{name}") as response:
                    body = await response.json(content_type=None)
                    out[name] = {"status": response.status, "body": body}
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                out[name] = {"error": str(exc) or type(exc).__name__}
    return out


def _uptime(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def _ready_summary(ready: dict[str, Any]) -> str:
    if "error" in ready:
        return f"/ready did not answer: {ready['error']}"
    raw = ready.get("body")
    body: dict[str, Any] = raw if isinstance(raw, dict) else {}
    parts = []
    if "usable" in body and "credentials" in body:
        parts.append(f"{body['usable']} of {body['credentials']} credentials usable")
    for key, value in body.items():
        if key not in ("ready", "usable", "credentials") and isinstance(value, str | int | bool):
            parts.append(f"{key}: {value}")
    state = "ready" if ready.get("status") == 200 else "not ready"
    return state + (f" ({', '.join(parts)})" if parts else "")


def cmd_status(args: argparse.Namespace) -> int:
    settings, url, running = locate(args)
    probe = run(_probe(url))
    health = probe["health"]
    answers = "status" in health
    uptime = time.time() - running.state.started_at if running.state and running.pid else None
    if getattr(args, "json", False):
        print_json(
            {
                "running": running.pid is not None or answers,
                "pid": running.pid,
                "url": url,
                "uptime_seconds": round(uptime) if uptime is not None else None,
                "stale_pid": running.stale_pid,
                "health": health,
                "ready": probe["ready"],
                "data_dir": str(settings.data_path),
            }
        )
    else:
        _print_status(running, url, uptime, answers, probe, settings.data_path)
    if running.pid is None and not answers:
        return EXIT_NOT_RUNNING
    return EXIT_OK if answers else EXIT_FAILURE


def _print_status(
    running: Any, url: str, uptime: float | None, answers: bool, probe: dict[str, Any], data: Path
) -> None:
    if running.pid is not None:
        since = f", up {_uptime(uptime)}" if uptime is not None else ""
        if answers:
            say(OK_MARK, f"kirogate is running at {url} (pid {running.pid}{since})")
            say("", "  " + _ready_summary(probe["ready"]))
        else:
            say(FAIL_MARK, f"process {running.pid} is alive but {url} does not answer: "
                f"{probe['health'].get('error')}")  # fmt: skip
        return
    if answers:
        say(OK_MARK, f"a gateway answers at {url} (no daemon PID file in {data})")
        say("", "  " + _ready_summary(probe["ready"]))
        return
    say(FAIL_MARK, "kirogate is not running")
    if running.stale_pid is not None:
        say("", f"  the PID file names process {running.stale_pid}, which is gone (stale)")
    say("", "  start it with: kirogate serve --daemon")


def cmd_stop(args: argparse.Namespace) -> int:
    from kirogate import daemon

    settings = load(args).settings
    data_dir = settings.data_path
    running = daemon.find_running(data_dir)
    if running.pid is None:
        if running.stale_pid is not None:
            daemon.remove_pid_file(data_dir, running.stale_pid)
            say(WARN_MARK, f"removed a stale PID file (process {running.stale_pid} is gone)")
        say(FAIL_MARK, "kirogate is not running")
        return EXIT_NOT_RUNNING
    if not _confirm_stop(args, running, "Stop"):
        say(WARN_MARK, f"kirogate (pid {running.pid}) keeps running")
        return EXIT_FAILURE
    timeout = stop_timeout(args, settings)
    outcome = daemon.stop_process(running.pid, timeout=timeout)
    daemon.remove_pid_file(data_dir, running.pid)
    if outcome == "killed":
        say(WARN_MARK, f"kirogate (pid {running.pid}) did not stop within "
            f"{timeout:.0f}s and was killed")  # fmt: skip
    else:
        say(OK_MARK, f"stopped kirogate (pid {running.pid})")
    return EXIT_OK


def stop_timeout(args: argparse.Namespace, settings: Any) -> float:
    """Seconds from SIGTERM to SIGKILL: ``--timeout``, or enough for the daemon's own stop
    (``server.shutdown_grace``, then uvicorn's margin, then closing the store)."""
    from kirogate.serve import graceful_timeout

    given: float | None = getattr(args, "stop_timeout", None)
    if given is not None:
        return given
    return graceful_timeout(settings.server.shutdown_grace) + STOP_CLOSE_TIME


def _confirm_stop(args: argparse.Namespace, running: Any, verb: str) -> bool:
    """Ask before ``verb`` (``Stop`` or ``Restart``) ends the running daemon."""
    where = f" at {running.state.url}" if running.state else ""
    question = (
        f"{verb} kirogate (pid {running.pid}{where})? Requests in flight get the shutdown "
        "grace period to finish; those still open then end with an error."
    )
    what = {"Stop": "stopping", "Restart": "restarting"}[verb]
    return confirm(args, question, what=f"{what} kirogate (pid {running.pid})")


def _without_location(tokens: list[str]) -> list[str]:
    """``tokens`` minus ``--data-dir``/``--config``, which only say where the daemon is."""
    out: list[str] = []
    skip = False
    for token in tokens:
        if skip:
            skip = False
        elif token in ("--data-dir", "--config"):
            skip = True
        elif not token.startswith(("--data-dir=", "--config=")):
            out.append(token)
    return out


def cmd_restart(args: argparse.Namespace) -> int:
    from kirogate import daemon
    from kirogate.cli import main
    from kirogate.cli.serve_flags import SERVE_FLAGS, child_argv

    settings = load(args, SERVE_FLAGS).settings
    data_dir = settings.data_path
    running = daemon.find_running(data_dir)
    given = [t for t in child_argv(list(args.argv))[1:] if t not in ("-y", "--yes")]
    saved = daemon.read_state(data_dir)
    if _without_location(given):
        argv, cwd = ["serve", *given], None
    elif saved is not None and saved.argv:
        argv, cwd = saved.argv, saved.cwd or None
    else:
        argv, cwd = ["serve", *given], None
    if running.pid is not None:
        if not _confirm_stop(args, running, "Restart"):
            say(WARN_MARK, f"kirogate (pid {running.pid}) keeps running")
            return EXIT_FAILURE
        daemon.stop_process(running.pid, timeout=stop_timeout(args, settings))
        daemon.remove_pid_file(data_dir, running.pid)
        say(OK_MARK, f"stopped kirogate (pid {running.pid})")
    else:
        say(WARN_MARK, "kirogate was not running; starting it")
    if cwd and Path(cwd).is_dir():
        os.chdir(cwd)
    return main([*argv, "--daemon"])
