from __future__ import annotations

import asyncio
import logging

import pytest

from kirogate.cluster.outage import DatabaseWatch, OutageLog

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


class Database:
    """A ping target that answers, fails or hangs."""

    def __init__(self) -> None:
        self.error: Exception | None = None
        self.hang = False
        self.pinged = asyncio.Event()

    async def ping(self) -> None:
        self.pinged.set()
        if self.hang:
            await asyncio.Event().wait()
        if self.error is not None:
            raise self.error


async def test_the_watch_says_away_after_a_failed_ping_and_back_after_an_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, database = Clock(), Database()
    watch = DatabaseWatch(database.ping, logger=log, clock=clock)
    assert await watch.check()
    assert (watch.away, watch.reason(), watch.away_for()) == (False, None, 0.0)
    database.error = OSError("connection refused by db.internal:5432")
    assert not await watch.check()
    clock.now += 12
    assert watch.away and watch.away_for() == 12
    reason = watch.reason()
    assert reason is not None and reason.startswith("the database has not answered for 12 s")
    assert "db.internal" not in reason and "5432" not in reason
    database.error = None
    assert await watch.check()
    assert not watch.away
    lines = messages(caplog)
    assert lines[0].startswith("database away: client requests are served from memory")
    assert "connection refused by db.internal:5432" in lines[1]  # the detail is for the log
    assert lines[-2:] == [
        "database back after 12 s: writing what was queued",
        "database: working again after 1 failures",
    ]


async def test_a_ping_with_no_answer_counts_as_away() -> None:
    database = Database()
    database.hang = True
    watch = DatabaseWatch(database.ping, timeout=0.01, logger=log)
    assert not await watch.check()
    assert watch.away
    assert watch.checks == 1


async def test_failures_seen_elsewhere_mark_the_database_away() -> None:
    watch = DatabaseWatch(Database().ping, logger=log)
    watch.failed("writing request logs", OSError("refused"))
    assert watch.away
    watch.answered()
    assert not watch.away


async def test_the_watch_pings_in_the_background_until_closed() -> None:
    database = Database()
    watch = DatabaseWatch(database.ping, interval=0.01, logger=log)
    watch.start()
    async with asyncio.timeout(5):
        await database.pinged.wait()
    await watch.close()
    await watch.close()  # closing twice is harmless
