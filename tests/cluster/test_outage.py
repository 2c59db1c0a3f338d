from __future__ import annotations

import logging

import pytest

from kirogate.cluster.outage import OutageLog

log = logging.getLogger("tests.outage")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tests.outage"]


def test_the_first_failure_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    outage = OutageLog(log, "Redis", clock=Clock())
    outage.failed("publishing", OSError("refused"))
    assert messages(caplog) == ["Redis: publishing failed, will retry: OSError: refused"]
    assert outage.failing
    assert outage.failures == 1


def test_failures_within_the_interval_are_summed_up_later(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    outage = OutageLog(log, "Redis", interval=30, clock=clock)
    outage.failed("a", OSError("x"))
    clock.now += 10
    outage.failed("b", OSError("x"))
    outage.failed("c", OSError("x"))
    clock.now += 30
    outage.failed("d", OSError("y"))
    assert messages(caplog)[1:] == [
        "Redis: d failed, will retry: OSError: y (2 more failures not shown)"
    ]
    assert outage.failures == 4


def test_recovery_is_logged_once_after_an_outage(caplog: pytest.LogCaptureFixture) -> None:
    outage = OutageLog(log, "database", clock=Clock())
    outage.failed("sync", OSError("x"))
    outage.failed("sync", OSError("x"))
    outage.succeeded()
    outage.succeeded()
    assert messages(caplog)[1:] == ["database: working again after 2 failures"]
    assert not outage.failing


def test_after_recovery_the_next_failure_is_logged_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = OutageLog(log, "database", clock=Clock())
    outage.failed("sync", OSError("x"))
    outage.succeeded()
    outage.failed("sync", OSError("again"))
    assert messages(caplog)[-1] == "database: sync failed, will retry: OSError: again"
