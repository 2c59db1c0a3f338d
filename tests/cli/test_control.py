"""``stop`` and ``restart``: how long they wait before SIGKILL."""

from __future__ import annotations

import argparse
from dataclasses import replace

from kirogate.cli.control import STOP_CLOSE_TIME, stop_timeout
from kirogate.serve import graceful_timeout
from kirogate.settings import Settings


def test_stop_waits_for_the_daemons_grace_period_by_default() -> None:
    settings = Settings()
    settings = replace(settings, server=replace(settings.server, shutdown_grace=45.0))
    waited = stop_timeout(argparse.Namespace(stop_timeout=None), settings)
    assert waited == graceful_timeout(45.0) + STOP_CLOSE_TIME
    assert waited > 45.0


def test_stop_timeout_flag_wins() -> None:
    assert stop_timeout(argparse.Namespace(stop_timeout=3.0), Settings()) == 3.0
