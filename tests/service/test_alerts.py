"""Alerts: events to alerts, each webhook format delivered to a local receiver, dedupe,
retries, and a credential disabled by the emulator's invalid grant raising an alert."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from kirogate.emulator.app import start_emulator
from kirogate.emulator.config import EmulatorConfig
from kirogate.errors import InvalidGrant
from kirogate.events import Event
from kirogate.service import Gateway
from kirogate.service.alerts import Alert, Alerter, alert_for, webhook_payload
from kirogate.settings import load_settings
from kirogate.store.alerts import WebhookRecord
from kirogate.upstream.credentials import AuthMethod, Credential
from tests.store.conftest import pg_database  # noqa: F401 - a fixture

SECRET_TOKEN = "hook-token-0123456789abcdef"
NOW = datetime(2026, 12, 7, tzinfo=UTC)


class Receiver:
    """A local webhook receiver: answers ``statuses`` in turn (then 200), keeps the bodies."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.statuses: list[int] = []
        self.reply: dict[str, Any] = {}
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        status = self.statuses.pop(0) if self.statuses else 200
        return web.json_response(self.reply, status=status)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook/{token}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        for port in range(21700, 21800):
            site = web.TCPSite(self._runner, "127.0.0.1", port)
            try:
                await site.start()
            except OSError:
                continue
            self.url = f"http://127.0.0.1:{port}/hook/{SECRET_TOKEN}"
            return
        raise RuntimeError("no free port in 21700-21799")

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait(self, count: int, seconds: float = 5.0) -> None:
        deadline = asyncio.get_running_loop().time() + seconds
        while len(self.bodies) < count:
            assert asyncio.get_running_loop().time() < deadline, self.bodies
            await asyncio.sleep(0.02)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.close()


def hook(url: str, format: str = "generic", events: tuple[str, ...] = ("credential_disabled",
         "quota_exhausted", "refresh_failing", "all_unusable", "key_limit")) -> WebhookRecord:  # fmt: skip
    return WebhookRecord(1, "ops", format, url, events, True, NOW, NOW)


def disabled_event(cid: int = 3, reason: str = "invalid_refresh_token") -> Event:
    return Event("credential.state", {"id": cid, "email": "a@x.test", "state": "disabled",
                                      "reason": reason, "detail": "Invalid refresh token"})  # fmt: skip


def test_events_become_alerts_and_an_operators_disable_does_not() -> None:
    alert = alert_for(disabled_event())
    assert alert is not None and alert.type == "credential_disabled" and alert.target == "3"
    assert alert_for(disabled_event(reason="manual")) is None
    refresh = alert_for(disabled_event(reason="too_many_refresh_failures"))
    assert refresh is not None and refresh.type == "refresh_failing"
    quota = alert_for(Event("credential.state", {"id": 1, "state": "cooling",
                                                 "reason": "quota_exceeded", "until": "2027-01-01"}))  # fmt: skip
    assert quota is not None and quota.type == "quota_exhausted"
    assert quota.data["reset_at"] == "2027-01-01" and "2027-01-01" in quota.text
    suspended = alert_for(Event("credential.state", {"id": 1, "state": "cooling",
                                                     "reason": "suspended"}))  # fmt: skip
    assert suspended is not None and suspended.type == "credential_disabled"
    throttled = Event("credential.state", {"id": 1, "state": "cooling", "reason": "throttled"})
    assert alert_for(throttled) is None
    unusable = alert_for(Event("pool.unusable", {"total": 2, "reason": "all disabled"}))
    assert unusable is not None and unusable.type == "all_unusable"
    limit = alert_for(Event("key.limit", {"key_id": 4, "key_name": "team", "limit": "rpm"}))
    assert limit is not None and limit.type == "key_limit" and limit.target == "4:rpm"


def test_each_format_has_its_receivers_shape() -> None:
    alert = Alert("key_limit", "4:rpm", "kirogate: key #4 reached its limit rpm")
    assert webhook_payload("slack", alert) == {"text": alert.text}
    assert webhook_payload("feishu", alert) == {"msg_type": "text", "content": {"text": alert.text}}
    assert webhook_payload("dingtalk", alert) == {
        "msgtype": "text",
        "text": {"content": alert.text},
    }
    generic = webhook_payload("generic", alert)
    assert generic["event"] == "key_limit" and generic["target"] == "4:rpm"


@pytest.mark.parametrize("format", ["generic", "slack", "feishu", "dingtalk"])
async def test_every_format_reaches_a_receiver(receiver: Receiver, format: str) -> None:
    alerter = Alerter(lambda: [])
    try:
        alert = alert_for(disabled_event())
        assert alert is not None
        result = await alerter.deliver(hook(receiver.url, format), alert)
    finally:
        await alerter.close()
    assert result.ok and result.tries == 1
    body = json.dumps(receiver.bodies[0])
    assert "credential #3" in body and SECRET_TOKEN not in body


async def test_a_500_is_retried_with_backoff(receiver: Receiver) -> None:
    receiver.statuses = [500, 502]
    alerter = Alerter(lambda: [], retry_delay=0.01)
    try:
        result = await alerter.deliver(hook(receiver.url), Alert("all_unusable", "pool", "x"))
    finally:
        await alerter.close()
    assert result.ok and result.tries == 3 and len(receiver.bodies) == 3


async def test_a_receiver_refusing_in_its_body_is_a_failure(receiver: Receiver) -> None:
    receiver.reply = {"code": 19001, "msg": "param invalid"}
    alerter = Alerter(lambda: [], tries=2, retry_delay=0.01)
    try:
        result = await alerter.deliver(hook(receiver.url, "feishu"), Alert("x", "y", "z"))
    finally:
        await alerter.close()
    assert not result.ok and result.tries == 2 and "19001" in (result.error or "")


async def test_an_unreachable_receiver_fails_without_naming_the_url() -> None:
    alerter = Alerter(lambda: [], tries=1)
    try:
        result = await alerter.deliver(
            hook(f"http://127.0.0.1:1/{SECRET_TOKEN}"), Alert("x", "y", "z")
        )
    finally:
        await alerter.close()
    assert not result.ok and SECRET_TOKEN not in json.dumps(result.to_public())


async def test_the_same_alert_within_the_window_is_sent_once(receiver: Receiver) -> None:
    hooks = [hook(receiver.url)]

    async def load() -> list[WebhookRecord]:
        return hooks

    alerter = Alerter(load)
    try:
        await alerter.reload()
        alert = alert_for(disabled_event())
        assert alert is not None
        assert await alerter.dispatch(alert) == 1
        assert await alerter.dispatch(alert) == 0
        other = alert_for(disabled_event(cid=4))
        assert other is not None and await alerter.dispatch(other) == 1
        await alerter.settle()
    finally:
        await alerter.close()
    assert len(receiver.bodies) == 2


async def test_redis_shares_the_window_between_processes(receiver: Receiver) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url("redis://127.0.0.1:6379/10")
    try:
        await redis.ping()
    except OSError as exc:
        pytest.skip(f"no Redis: {exc}")
    prefix = f"kgaudit:{id(receiver)}:"
    hooks = [hook(receiver.url)]

    async def load() -> list[WebhookRecord]:
        return hooks

    one = Alerter(load, redis=redis, redis_prefix=prefix)
    two = Alerter(load, redis=redis, redis_prefix=prefix)
    try:
        await one.reload()
        await two.reload()
        alert = Alert("all_unusable", "pool", "none left")
        assert await one.dispatch(alert) == 1
        assert await two.dispatch(alert) == 0
        await one.settle()
    finally:
        await one.close()
        await two.close()
        await redis.delete(prefix + "alert:all_unusable:pool")
        await redis.aclose()


async def test_an_invalid_grant_from_the_emulator_raises_an_alert(
    tmp_path: Path, receiver: Receiver
) -> None:
    emulator = await start_emulator(EmulatorConfig(port=0))
    settings = load_settings({}, {"upstream.url": emulator.url, "data_dir": tmp_path,
                                  "upstream.usage_interval": 0})  # fmt: skip
    gateway = Gateway(settings, [], persistent=True)
    await gateway.start()
    try:
        operations = gateway.operations
        await operations.create_webhook(name="ops", format="slack", url=receiver.url,
                                        events=["credential_disabled"])  # fmt: skip
        credential, _ = await operations.add(
            Credential(AuthMethod.SOCIAL, refresh_token="aorAAAA-revoked-" + "r" * 90)
        )
        with pytest.raises(InvalidGrant):
            await operations.verify(credential)
        await receiver.wait(1)
        assert "disabled (invalid_refresh_token)" in receiver.bodies[0]["text"]
        assert "revoked-rrrr" not in json.dumps(receiver.bodies)
    finally:
        await gateway.close()
        await emulator.close()


async def test_nobody_watching_costs_the_pool_nothing(tmp_path: Path) -> None:
    gateway = Gateway(load_settings({}, {"data_dir": tmp_path}), [], persistent=True)
    await gateway.start()
    try:
        assert not gateway.events.watched  # no webhook: the alerter does not subscribe
        await gateway.operations.create_webhook(name="a", format="generic",
                                                url="http://127.0.0.1:21799/x")  # fmt: skip
        assert gateway.events.watched
    finally:
        await gateway.close()
    assert timedelta(minutes=10).total_seconds() == 600


async def test_a_webhook_added_on_one_instance_alerts_from_the_other(
    tmp_path: Path, receiver: Receiver, request: pytest.FixtureRequest
) -> None:
    from tests.store.conftest import pg_url, reset_pg_schema

    database = request.getfixturevalue("pg_database")
    await reset_pg_schema(database)
    base = {"database_url": pg_url(database), "redis_url": "redis://127.0.0.1:6379/10",
            "upstream.usage_interval": 0}  # fmt: skip
    # Two processes on one PostgreSQL and one Redis (one data dir: the same secret key).
    one = Gateway(load_settings({}, {**base, "data_dir": tmp_path}), [], persistent=True)
    two = Gateway(load_settings({}, {**base, "data_dir": tmp_path}), [], persistent=True)
    await one.start()
    await two.start()
    try:
        await one.operations.create_webhook(name="ops", format="generic", url=receiver.url,
                                            events=["all_unusable"])  # fmt: skip
        deadline = asyncio.get_running_loop().time() + 1.0
        while not two.events.watched:
            assert asyncio.get_running_loop().time() < deadline, "not seen within a second"
            await asyncio.sleep(0.05)
        two.events.publish("pool.unusable", total=1, reason="test")
        one.events.publish("pool.unusable", total=1, reason="test")
        await receiver.wait(1)
        await asyncio.sleep(0.3)
        assert len(receiver.bodies) == 1  # the same alert, de-duplicated across instances
    finally:
        await two.close()
        await one.close()
        redis = __import__("redis.asyncio", fromlist=["Redis"]).Redis.from_url(base["redis_url"])
        await redis.delete("kirogate:alert:all_unusable:pool")
        await redis.aclose()
