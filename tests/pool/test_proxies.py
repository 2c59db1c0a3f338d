"""ProxyPool: strategies, precedence, cooldowns and runtime changes; HttpPool's proxy hook."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import replace
from typing import Any

import pytest

from kirogate.errors import InvalidRequest, NotFound, UpstreamConnectionError
from kirogate.pool.proxies import ProxyEntry, ProxyPool, ProxyStrategy, mask_proxy_url
from kirogate.settings import UpstreamSettings
from kirogate.upstream.client import KiroClient
from kirogate.upstream.credentials import AuthMethod, Credential
from kirogate.upstream.http import HttpPool
from tests.pool.fakes import FakeTime

A = "http://10.0.0.1:8080"
B = "http://10.0.0.2:8080"
C = "socks5h://10.0.0.3:1080"


def cred(cid: int | None = 1, **fields: Any) -> Credential:
    return Credential(AuthMethod.SOCIAL, refresh_token=f"refresh-{cid}", id=cid, **fields)


def entries() -> list[ProxyEntry]:
    return [ProxyEntry(1, A, label="a"), ProxyEntry(2, B), ProxyEntry(3, C)]


def pool(strategy: str, clock: FakeTime, **kw: Any) -> ProxyPool:
    return ProxyPool(entries(), strategy=strategy, clock=clock.clock, **kw)


# ---------------------------------------------------------------- entries


def test_entry_rejects_bad_urls_without_showing_the_password() -> None:
    with pytest.raises(InvalidRequest, match="unsupported scheme") as caught:
        ProxyEntry(1, "ftp://user:hunter2@host:21")
    assert "hunter2" not in str(caught.value)
    with pytest.raises(InvalidRequest, match="no host"):
        ProxyEntry(1, "http://:8080")
    with pytest.raises(InvalidRequest, match="not a valid URL"):
        ProxyEntry(1, "http://host:99999")


def test_entry_separate_credentials_win_and_are_percent_encoded() -> None:
    entry = ProxyEntry(4, "http://old:old@10.0.0.4:3128", username="u@x", password="p w")
    assert entry.proxy_url() == "http://u%40x:p%20w@10.0.0.4:3128"
    assert "p w" not in repr(entry) and "p%20w" not in repr(entry)
    assert entry.to_public() == {
        "id": 4,
        "url": "http://***@10.0.0.4:3128",
        "label": None,
        "hasAuth": True,
        "disabled": False,
    }


def test_entry_from_kiro_rs_batch_line() -> None:
    entry = ProxyEntry.from_line(9, "socks5://1.2.3.4:1080 user secret US Server 01")
    assert entry.proxy_url() == "socks5://user:secret@1.2.3.4:1080"
    assert entry.label == "US Server 01"
    assert ProxyEntry.from_line(10, "http://1.2.3.4:8080").proxy_url() == "http://1.2.3.4:8080"
    with pytest.raises(InvalidRequest):
        ProxyEntry.from_line(11, "   ")


def test_mask_proxy_url() -> None:
    assert mask_proxy_url("HTTP://u:p@h:1/x") == "http://***@h:1"
    assert mask_proxy_url("socks5://h:1080") == "socks5://h:1080"
    assert mask_proxy_url("h:1080") == "<proxy url without scheme>"


# ---------------------------------------------------------------- precedence


def test_own_proxy_url_wins_over_every_strategy(clock: FakeTime) -> None:
    for strategy in ProxyStrategy:
        proxies = pool(strategy, clock)
        proxies.assign(1, 2)
        assert proxies.proxy_for(cred(proxy_url="http://own:1")) == "http://own:1"
        assert proxies.proxy_for(cred(proxy_url=" DIRECT ")) == "direct"
    own = cred(proxy_url="http://own:1", proxy_username="u", proxy_password="p")
    assert pool("assigned", clock).proxy_for(own) == "http://u:p@own:1"


def test_assigned_strategy_uses_the_assignment_and_leaves_others_default(
    clock: FakeTime,
) -> None:
    proxies = pool("assigned", clock)
    proxies.assign(1, 2)
    assert proxies.proxy_for(cred(1)) == B
    assert proxies.proxy_for(cred(2)) is None
    assert proxies.assignment(1) == 2
    proxies.assign(1, None)
    assert proxies.proxy_for(cred(1)) is None
    with pytest.raises(NotFound):
        proxies.assign(1, 99)


def test_proxy_id_on_the_credential_counts_as_an_assignment(clock: FakeTime) -> None:
    proxies = pool("assigned", clock)
    assert proxies.proxy_for(cred(5, extra={"proxyId": 3})) == C
    assert proxies.proxy_for(cred(5, extra={"proxyId": 42})) is None  # unknown: default route


def test_assignment_wins_over_rotation(clock: FakeTime) -> None:
    proxies = pool("round_robin", clock)
    proxies.assign(1, 3)
    assert [proxies.proxy_for(cred(1)) for _ in range(3)] == [C, C, C]


# ---------------------------------------------------------------- strategies


def test_round_robin_cycles_in_list_order(clock: FakeTime) -> None:
    proxies = pool("round_robin", clock)
    picks = [proxies.proxy_for(cred(cid)) for cid in (1, 1, 2, 3, 1)]
    assert picks == [A, B, C, A, B]


def test_random_picks_among_ready_proxies(clock: FakeTime) -> None:
    proxies = pool("random", clock, rng=random.Random(3))
    picks = {proxies.proxy_for(cred(1)) for _ in range(60)}
    assert picks == {A, B, C}
    proxies.report_failure(A)
    assert A not in {proxies.proxy_for(cred(1)) for _ in range(60)}


def test_sticky_keeps_a_proxy_per_credential_until_it_fails(clock: FakeTime) -> None:
    proxies = pool("sticky", clock)
    first = {cid: proxies.proxy_for(cred(cid)) for cid in range(1, 30)}
    assert len(set(first.values())) == 3  # spread by hash
    again = {cid: proxies.proxy_for(cred(cid)) for cid in range(1, 30)}
    assert again == first
    victim = first[1]
    assert victim is not None
    proxies.report_failure(victim)
    moved = proxies.proxy_for(cred(1))
    assert moved not in (None, victim)
    clock.advance(3600)  # the failed proxy is back, but credential 1 stays where it went
    assert proxies.proxy_for(cred(1)) == moved
    untouched = [cid for cid, url in first.items() if url != victim]
    assert all(proxies.proxy_for(cred(cid)) == first[cid] for cid in untouched)


def test_sticky_without_id_uses_the_fingerprint(clock: FakeTime) -> None:
    proxies = pool("sticky", clock)
    anonymous = cred(None)
    assert proxies.proxy_for(anonymous) == proxies.proxy_for(cred(None))


def test_rotation_with_no_proxies_takes_the_default_route(clock: FakeTime) -> None:
    for strategy in ("round_robin", "random", "sticky"):
        assert ProxyPool(strategy=strategy, clock=clock.clock).proxy_for(cred(1)) is None


def test_set_strategy_at_runtime_and_reject_unknown(clock: FakeTime) -> None:
    proxies = pool("assigned", clock)
    assert proxies.proxy_for(cred(1)) is None
    proxies.set_strategy("Round-Robin")
    assert proxies.strategy is ProxyStrategy.ROUND_ROBIN
    assert proxies.proxy_for(cred(1)) == A
    with pytest.raises(InvalidRequest, match="choose one of assigned, round_robin"):
        proxies.set_strategy("fastest")


# ---------------------------------------------------------------- health


def test_failed_proxy_cools_down_with_backoff_then_returns(clock: FakeTime) -> None:
    proxies = pool("round_robin", clock, cooldown=10, max_cooldown=25)
    assert proxies.report_failure("http://10.0.0.2:8080/")
    assert proxies.cooling() == {2: 10}
    assert [proxies.proxy_for(cred(1)) for _ in range(4)] == [A, C, A, C]
    clock.advance(10)
    assert proxies.cooling() == {}
    assert proxies.report_failure(B)
    assert proxies.cooling() == {2: 20}
    assert proxies.report_failure(B)
    assert proxies.cooling() == {2: 25}  # capped
    proxies.report_success(B)
    clock.advance(25)
    proxies.report_failure(B)
    assert proxies.cooling() == {2: 10}  # the streak was forgotten


def test_report_failure_matches_urls_with_credentials(clock: FakeTime) -> None:
    proxies = ProxyPool(
        [ProxyEntry(1, "http://10.0.0.9:80", username="u", password="p w")], clock=clock.clock
    )
    assert proxies.report_failure("http://u:p%20w@10.0.0.9:80")
    assert not proxies.report_failure("http://10.9.9.9:80")


def test_all_cooling_uses_the_one_back_first_rather_than_direct(clock: FakeTime) -> None:
    proxies = pool("round_robin", clock, cooldown=10, max_cooldown=100)
    proxies.report_failure(A)
    proxies.report_failure(A)  # 20 s
    clock.advance(1)
    proxies.report_failure(B)  # 10 s from now
    proxies.report_failure(C)
    proxies.report_failure(C)
    assert proxies.proxy_for(cred(1)) == B


def test_disabled_proxies_are_skipped(clock: FakeTime) -> None:
    proxies = ProxyPool(
        [ProxyEntry(1, A, disabled=True), ProxyEntry(2, B)],
        strategy="round_robin",
        clock=clock.clock,
    )
    assert {proxies.proxy_for(cred(1)) for _ in range(3)} == {B}
    proxies.assign(1, 1)
    assert proxies.proxy_for(cred(1)) == B  # a disabled assignment falls back to rotation
    only_disabled = ProxyPool([ProxyEntry(1, A, disabled=True)], strategy="random")
    assert only_disabled.proxy_for(cred(1)) is None


# ---------------------------------------------------------------- runtime changes


def test_add_remove_replace(clock: FakeTime) -> None:
    proxies = pool("round_robin", clock)
    assert proxies.next_id() == 4
    proxies.add(ProxyEntry(4, "http://10.0.0.4:8080"))
    with pytest.raises(InvalidRequest, match="already exists"):
        proxies.add(ProxyEntry(4, "http://10.0.0.5:8080"))
    proxies.assign(7, 2)
    proxies.report_failure(B)
    assert proxies.remove(2).url == B
    assert proxies.assignment(7) is None
    assert proxies.cooling() == {}
    with pytest.raises(NotFound):
        proxies.remove(2)
    proxies.assign(7, 3)
    proxies.replace([ProxyEntry(3, C), ProxyEntry(8, "http://10.0.0.8:8080")])
    assert [entry.id for entry in proxies.entries()] == [3, 8]
    assert proxies.assignment(7) == 3
    with pytest.raises(InvalidRequest, match="listed twice"):
        proxies.replace([ProxyEntry(1, A), ProxyEntry(1, B)])


def test_snapshot_shows_health_and_never_secrets(clock: FakeTime) -> None:
    proxies = ProxyPool(
        [ProxyEntry(1, "http://u:hunter2@10.0.0.1:80", label="eu")], clock=clock.clock
    )
    proxies.assign(5, 1)
    proxies.report_failure("http://u:hunter2@10.0.0.1:80")
    [row] = proxies.snapshot()
    assert row["assignedTo"] == [5]
    assert row["failures"] == 1
    assert row["coolingFor"] == 30.0
    assert "hunter2" not in repr(row)


def test_bad_pool_settings_are_rejected() -> None:
    with pytest.raises(InvalidRequest):
        ProxyPool(cooldown=0)
    with pytest.raises(InvalidRequest):
        ProxyPool(cooldown=10, max_cooldown=5)


# ---------------------------------------------------------------- HttpPool hook


def settings(**kw: Any) -> UpstreamSettings:
    return replace(UpstreamSettings(url="http://127.0.0.1:9", connect_timeout=2.0), **kw)


async def test_http_pool_uses_the_hook_for_credentials_without_their_own(clock: FakeTime) -> None:
    proxies = pool("round_robin", clock)
    async with HttpPool(settings(), proxy_for=proxies.proxy_for) as http:
        _, first = http.session_for(cred(1))
        assert str(first) == A
        assert http.proxy_for(cred(1)).describe() == "http://10.0.0.1:8080"  # type: ignore[union-attr]
        _, second = http.session_for(cred(1))
        assert str(second) == B
        socks, socks_proxy = http.session_for(cred(1))
        assert socks_proxy is None and socks.connector is not None
        _, own = http.session_for(cred(1, proxy_url="http://10.9.9.9:1"))
        assert str(own) == "http://10.9.9.9:1"


async def test_http_pool_hook_none_means_the_global_proxy_and_direct_means_none() -> None:
    answers: dict[int, str | None] = {1: None, 2: "direct"}
    config = settings(proxy_url="http://10.7.7.7:3128")
    async with HttpPool(config, proxy_for=lambda c: answers[c.id or 0]) as http:
        _, default = http.session_for(cred(1))
        _, direct = http.session_for(cred(2))
    assert str(default) == "http://10.7.7.7:3128"
    assert direct is None


async def test_http_pool_without_hook_keeps_its_behaviour() -> None:
    async with HttpPool(settings(proxy_url="http://10.7.7.7:3128")) as http:
        _, proxy = http.session_for(cred(1))
        http.report_proxy_failure(cred(1))  # no hook, no listener: nothing happens
    assert str(proxy) == "http://10.7.7.7:3128"


async def test_failed_call_through_a_pool_proxy_rests_it(
    clock: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    closed = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = closed.sockets[0].getsockname()[1]
    closed.close()
    await closed.wait_closed()
    dead = ProxyEntry(1, f"http://127.0.0.1:{port}", username="u", password="hunter2")
    proxies = ProxyPool([dead, ProxyEntry(2, B)], strategy="sticky", clock=clock.clock)
    proxies.assign(1, 1)
    caplog.set_level(logging.DEBUG)
    config = settings(url="http://kiro-upstream.invalid:8080")
    async with HttpPool(
        config, proxy_for=proxies.proxy_for, on_proxy_failure=proxies.report_failure
    ) as http:
        client = KiroClient(config, http)
        credential = cred(1, access_token="aoaAAAAaccess")
        with pytest.raises(UpstreamConnectionError) as caught:
            await client.usage_limits(credential, machine_id="a" * 64)
        # KiroClient does not report proxy failures itself (yet); the gateway would do this.
        http.report_proxy_failure(credential)
        http.report_proxy_failure(cred(2, proxy_url=B))  # a credential's own proxy: ignored
    assert f"http://***@127.0.0.1:{port}" in str(caught.value)
    assert "hunter2" not in str(caught.value) and "hunter2" not in caplog.text
    assert set(proxies.cooling()) == {1}


# ---------------------------------------------------------------- least used, the setting


def test_least_used_takes_the_proxy_picked_fewest_times(clock: FakeTime) -> None:
    proxies = pool("least_used", clock)
    picks = [proxies.proxy_for(cred(n)) for n in range(6)]
    assert picks == [A, B, C, A, B, C]
    assert proxies.proxy_for(cred(1, proxy_id=2)) == B  # an assignment counts as a use
    assert [proxies.uses(pid) for pid in (1, 2, 3)] == [2, 3, 2]
    assert proxies.proxy_for(cred(9)) == A
    proxies.report_failure(A)
    assert proxies.proxy_for(cred(9)) == C  # a resting proxy is skipped


def test_the_strategy_setting_is_read_at_every_pick(clock: FakeTime) -> None:
    setting = {"value": "round_robin"}
    proxies = ProxyPool(entries(), clock=clock.clock, strategy_of=lambda: setting["value"])
    assert proxies.proxy_for(cred(1)) == A
    assert proxies.proxy_for(cred(1)) == B
    setting["value"] = "assigned"
    assert proxies.proxy_for(cred(1)) is None
    assert proxies.strategy is ProxyStrategy.ASSIGNED
    setting["value"] = "no-such-strategy"  # kept as it was, logged
    assert proxies.proxy_for(cred(1)) is None
    setting["value"] = "sticky"
    first = proxies.proxy_for(cred(5))
    assert all(proxies.proxy_for(cred(5)) == first for _ in range(3))


def test_snapshot_counts_uses(clock: FakeTime) -> None:
    proxies = pool("round_robin", clock)
    proxies.proxy_for(cred(1))
    assert {row["id"]: row["uses"] for row in proxies.snapshot()} == {1: 1, 2: 0, 3: 0}
