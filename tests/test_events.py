import asyncio

from kirogate.events import EventBus


async def test_subscribers_get_the_kinds_they_asked_for():
    bus = EventBus()
    everything = bus.subscribe()
    requests = bus.subscribe(["request.finished"])
    bus.publish("request.finished", status=200)
    bus.publish("credential.state", id=1, state="disabled")
    assert (await everything.get()).kind == "request.finished"
    assert (await everything.get()).data == {"id": 1, "state": "disabled"}
    assert (await requests.get()).data == {"status": 200}
    assert requests.pending() == 0


async def test_a_slow_subscriber_loses_its_oldest_events_never_blocks():
    bus = EventBus()
    slow = bus.subscribe(limit=2)
    for n in range(5):
        bus.publish("tick", n=n)
    assert slow.dropped == 3
    assert [(await slow.get()).data["n"] for _ in range(2)] == [3, 4]


async def test_closed_subscriptions_and_nobody_watching():
    bus = EventBus()
    assert not bus.watched
    sub = bus.subscribe()
    assert bus.watched
    sub.close()
    bus.publish("tick")
    assert sub.pending() == 0
    assert not bus.watched


async def test_listeners_are_called_and_a_broken_one_is_logged(caplog):
    bus = EventBus()
    seen = []

    def broken(event):
        raise RuntimeError("boom")

    bus.listen(broken)
    bus.listen(seen.append)
    bus.publish("tick", n=1)
    assert seen[0].to_public()["data"] == {"n": 1}
    assert "event listener failed" in caplog.text


async def test_iterating_a_subscription():
    bus = EventBus()
    sub = bus.subscribe()
    bus.publish("a")
    async for event in sub:
        assert event.kind == "a"
        break
    await asyncio.sleep(0)
