"""The daemon child's command line: the serve flags without the ones that daemonise."""

from __future__ import annotations

from kirogate.cli.serve_flags import DAEMON_CHILD, SERVE_FLAGS, child_argv


def test_child_argv_drops_the_daemon_flags_and_keeps_the_rest() -> None:
    argv = ["serve", "-d", "--port", "9000", "--daemon", DAEMON_CHILD]
    assert child_argv(argv) == ["serve", "--port", "9000"]


def test_serve_flags_name_settings_keys() -> None:
    assert SERVE_FLAGS["port"] == "server.port" and SERVE_FLAGS["pool_mode"] == "pool.mode"
