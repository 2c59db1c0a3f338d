from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from kirogate.cluster.notify import Notice, NoticeKind, NullNotifier, RedisNotifier, parse_notice
from tests.cluster.conftest import connect_redis


class Inbox:
    def __init__(self) -> None:
        self.notices: list[Notice] = []
        self.arrived = asyncio.Event()

    async def __call__(self, notice: Notice) -> None:
        self.notices.append(notice)
        self.arrived.set()

    async def next(self, within: float = 3.0) -> Notice:
        async with asyncio.timeout(within):
            while not self.notices:
                self.arrived.clear()
                await self.arrived.wait()
        return self.notices.pop(0)


def test_notices_round_trip_through_text() -> None:
    notice = Notice(NoticeKind.STATE, "abc", (1, 22))
    assert notice.encode() == "state changed abc 1,22"
    assert parse_notice(notice.encode()) == notice
    assert parse_notice("credentials changed abc") == Notice(NoticeKind.CREDENTIALS, "abc")


@pytest.mark.parametrize(
    "text", ["", "hello", "state changed ", "state changed abc 1,x", "credentials changed"]
)
def test_foreign_messages_are_not_notices(text: str) -> None:
    assert parse_notice(text) is None


async def test_null_notifier_does_nothing() -> None:
    notifier = NullNotifier()
    inbox = Inbox()
    await notifier.start(inbox)
    await notifier.state_changed([1])
    await notifier.credentials_changed()
    await notifier.close()
    assert inbox.notices == []


async def test_another_process_hears_a_notice_and_the_sender_does_not(
    redis: Redis, redis2: Redis, prefix: str
) -> None:
    channel = prefix + "notices"
    one, two = RedisNotifier(redis, channel=channel), RedisNotifier(redis2, channel=channel)
    heard_one, heard_two = Inbox(), Inbox()
    await one.start(heard_one)
    await two.start(heard_two)
    try:
        await one.wait_subscribed()
        await two.wait_subscribed()
        await one.state_changed([3, 4])
        assert await heard_two.next() == Notice(NoticeKind.STATE, one.sender, (3, 4))
        await two.credentials_changed()
        assert await heard_one.next() == Notice(NoticeKind.CREDENTIALS, two.sender)
        await asyncio.sleep(0.1)
        assert heard_one.notices == [] and heard_two.notices == []
    finally:
        await one.close()
        await two.close()


async def test_junk_on_the_channel_is_ignored(redis: Redis, redis2: Redis, prefix: str) -> None:
    channel = prefix + "notices"
    notifier = RedisNotifier(redis2, channel=channel)
    inbox = Inbox()
    await notifier.start(inbox)
    try:
        await notifier.wait_subscribed()
        await redis.publish(channel, "not a notice")
        await redis.publish(channel, "credentials changed other")
        assert (await inbox.next()).sender == "other"
    finally:
        await notifier.close()


async def test_listener_reconnects_and_asks_for_a_resync(redis: Redis, prefix: str) -> None:
    name = "kgtest-" + uuid.uuid4().hex[:8]
    listening = await connect_redis(client_name=name)
    channel = prefix + "notices"
    notifier = RedisNotifier(listening, channel=channel)
    inbox = Inbox()
    await notifier.start(inbox)
    try:
        await notifier.wait_subscribed()
        for client in await redis.client_list():
            if client.get("name") == name:
                await redis.client_kill_filter(_id=client["id"])
        resync = {(await inbox.next(within=15)).kind, (await inbox.next(within=5)).kind}
        assert resync == {NoticeKind.CREDENTIALS, NoticeKind.STATE}
        await redis.publish(channel, "state changed other 9")
        assert (await inbox.next()).credential_ids == (9,)
    finally:
        await notifier.close()
        await listening.aclose()


async def test_publishing_without_redis_does_not_raise(prefix: str) -> None:
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    notifier = RedisNotifier(down, channel=prefix + "n")
    try:
        await notifier.state_changed([1])
        await notifier.credentials_changed()
    finally:
        await notifier.close()
        await down.aclose()
