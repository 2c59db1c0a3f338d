import asyncio

from kirogate.service.changes import ChangeFeed


class FakeStore:
    def __init__(self) -> None:
        self.counters: dict[str, int] = {}
        self.fail = False

    async def bump_revision(self, topic: str) -> None:
        if self.fail:
            raise OSError("database away")
        self.counters[topic] = self.counters.get(topic, 0) + 1

    async def revisions(self) -> dict[str, int]:
        if self.fail:
            raise OSError("database away")
        return dict(self.counters)


async def test_a_local_change_calls_the_listeners_at_once():
    store = FakeStore()
    feed = ChangeFeed(lambda: store)  # type: ignore[arg-type, return-value]
    called: list[str] = []
    feed.on("keys", lambda: called.append("sync"))

    async def reload() -> None:
        called.append("async")

    feed.on("keys", reload)
    await feed.changed("keys")
    assert called == ["sync", "async"]
    assert store.counters == {"keys": 1}


async def test_another_process_change_is_seen_at_the_next_poll():
    store = FakeStore()
    here = ChangeFeed(lambda: store)  # type: ignore[arg-type, return-value]
    there = ChangeFeed(lambda: store)  # type: ignore[arg-type, return-value]
    seen: list[str] = []
    here.on("ips", lambda: seen.append("ips"))
    assert await here.poll() == []  # the first poll learns where things stand
    await there.changed("ips")
    assert await here.poll() == ["ips"]
    assert seen == ["ips"]
    assert await here.poll() == []


async def test_own_changes_are_not_reported_twice():
    store = FakeStore()
    feed = ChangeFeed(lambda: store)  # type: ignore[arg-type, return-value]
    seen: list[str] = []
    feed.on("keys", lambda: seen.append("keys"))
    await feed.poll()
    await feed.changed("keys")
    assert await feed.poll() == []
    assert seen == ["keys"]


async def test_a_failing_store_neither_raises_nor_stops_the_watch(caplog):
    store = FakeStore()
    feed = ChangeFeed(lambda: store, interval=0.01)  # type: ignore[arg-type, return-value]
    seen: list[str] = []
    feed.on("keys", lambda: seen.append("keys"))
    store.fail = True
    await feed.changed("keys")  # the local listeners still hear of it
    assert seen == ["keys"]
    feed.start()
    await asyncio.sleep(0.05)
    store.fail = False
    await asyncio.sleep(0.05)
    await feed.close()
    assert "change feed" in caplog.text


async def test_a_broken_listener_does_not_stop_the_others(caplog):
    feed = ChangeFeed(lambda: None)
    seen: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    feed.on("keys", broken)
    feed.on("keys", lambda: seen.append("ok"))
    await feed.changed("keys")
    assert seen == ["ok"]
    assert "listener for keys changes failed" in caplog.text
