"""HttpPool: which session and proxy each credential gets, and that proxies really carry
the traffic (an HTTP forward proxy and a SOCKS5 server, both in-test on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
import pytest
from aiohttp_socks import ProxyConnector

from kirogate.errors import ConfigError, UpstreamConnectionError
from kirogate.protocol.events import AssistantText, event_frame
from kirogate.settings import UpstreamSettings
from kirogate.upstream.client import KiroClient
from kirogate.upstream.http import HttpPool, describe_proxy, parse_proxy
from tests.upstream.test_client import (
    MACHINE_ID,
    STREAM_HEAD,
    chunked,
    collect,
    fake_upstream,
    raw_server,
    read_request_head,
    request,
    social,
    stream_handler,
)

FRAME = event_frame("assistantResponseEvent", {"content": "via proxy"})


def settings(**kw: Any) -> UpstreamSettings:
    return replace(UpstreamSettings(url="http://127.0.0.1:9", connect_timeout=2.0), **kw)


# ---------------------------------------------------------------- selection


async def test_direct_without_any_proxy() -> None:
    async with HttpPool(settings()) as pool:
        session, proxy = pool.session_for(None)
        assert proxy is None
        assert type(session.connector) is aiohttp.TCPConnector


async def test_global_proxy_when_credential_has_none() -> None:
    async with HttpPool(settings(proxy_url="http://user:pw@127.0.0.1:3128")) as pool:
        _, proxy = pool.session_for(social())
        assert str(proxy) == "http://user:pw@127.0.0.1:3128"


async def test_credential_proxy_wins_over_global() -> None:
    async with HttpPool(settings(proxy_url="http://127.0.0.1:3128")) as pool:
        _, proxy = pool.session_for(social(proxy_url="http://10.0.0.2:8888"))
        assert str(proxy) == "http://10.0.0.2:8888"


async def test_direct_credential_ignores_global_proxy() -> None:
    async with HttpPool(settings(proxy_url="http://127.0.0.1:3128")) as pool:
        session, proxy = pool.session_for(social(proxy_url="DIRECT"))
        direct_session, _ = pool.session_for(social(proxy_url="direct"))
        assert proxy is None
        assert session is direct_session
        assert session is not pool.session_for(social())[0]


async def test_separate_proxy_user_and_password_win_when_both_set() -> None:
    async with HttpPool(settings()) as pool:
        _, both = pool.session_for(
            social(proxy_url="http://a:b@127.0.0.1:3128", proxy_username="u", proxy_password="p")
        )
        _, only_user = pool.session_for(
            social(proxy_url="http://a:b@127.0.0.1:3128", proxy_username="u")
        )
    assert str(both) == "http://u:p@127.0.0.1:3128"
    assert str(only_user) == "http://a:b@127.0.0.1:3128"


async def test_socks_proxies_get_a_socks_connector_and_no_request_proxy() -> None:
    async with HttpPool(settings()) as pool:
        plain, plain_proxy = pool.session_for(social(proxy_url="socks5://127.0.0.1:1080"))
        remote, _ = pool.session_for(social(proxy_url="socks5h://127.0.0.1:1080"))
        assert plain_proxy is None
        assert isinstance(plain.connector, ProxyConnector)
        assert plain.connector._rdns is False
        assert isinstance(remote.connector, ProxyConnector)
        assert remote.connector._rdns is True


async def test_one_session_per_distinct_proxy() -> None:
    async with HttpPool(settings()) as pool:
        a1, _ = pool.session_for(social(proxy_url="http://127.0.0.1:3128"))
        a2, _ = pool.session_for(social(proxy_url="http://127.0.0.1:3128"))
        b, _ = pool.session_for(social(proxy_url="http://127.0.0.1:3129"))
        direct, _ = pool.session_for(None)
        assert a1 is a2
        assert len({id(a1), id(b), id(direct)}) == 3
        assert len(pool.connectors()) == 3


async def test_session_timeouts_bound_only_the_connect() -> None:
    async with HttpPool(settings(connect_timeout=3.5, pool_connections=7)) as pool:
        session, _ = pool.session_for(None)
        assert session.timeout.total is None
        assert session.timeout.sock_read is None
        assert session.timeout.sock_connect == 3.5
        assert session.connector is not None
        assert session.connector.limit == 7


async def test_close_closes_every_session() -> None:
    pool = HttpPool(settings())
    direct, _ = pool.session_for(None)
    proxied, _ = pool.session_for(social(proxy_url="socks5://127.0.0.1:1080"))
    await pool.close()
    assert direct.closed
    assert proxied.closed
    with pytest.raises(RuntimeError):
        pool.session_for(None)


def test_unsupported_proxy_scheme_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unsupported scheme") as caught:
        parse_proxy("ftp://user:secret@127.0.0.1:21")
    assert "secret" not in str(caught.value)


def test_global_proxy_is_checked_at_construction() -> None:
    with pytest.raises(ConfigError):
        HttpPool(settings(proxy_url="gopher://127.0.0.1:70"))


def test_describe_proxy_hides_credentials() -> None:
    assert describe_proxy("socks5h://user:secret@proxy.example:1080") == (
        "socks5h://***@proxy.example:1080"
    )
    assert describe_proxy("http://127.0.0.1:3128") == "http://127.0.0.1:3128"
    assert describe_proxy(None) == "direct"
    assert describe_proxy("Direct") == "direct"


# ---------------------------------------------------------------- traffic through proxies


async def test_http_proxy_carries_the_request_with_proxy_auth() -> None:
    heads: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await read_request_head(reader))
        writer.write(STREAM_HEAD + chunked(FRAME) + b"0\r\n\r\n")
        await writer.drain()
        await reader.read()

    async with raw_server(proxy) as proxy_url:
        # The upstream host does not exist: only the proxy can answer.
        config = settings(url="http://kiro-upstream.invalid:8080")
        async with HttpPool(config) as pool:
            client = KiroClient(config, pool)
            credential = social(proxy_url=proxy_url, proxy_username="u", proxy_password="p w")
            stream = await client.open_stream(credential, request(), machine_id=MACHINE_ID)
            events = await collect(stream)
    assert events == [AssistantText("via proxy")]
    head = heads[0].decode()
    assert head.startswith("POST http://kiro-upstream.invalid:8080/generateAssistantResponse ")
    expected = base64.b64encode(b"u:p w").decode()
    assert f"Proxy-Authorization: Basic {expected}" in head


@dataclass
class SocksLog:
    auth: list[tuple[str, str]] = field(default_factory=list)
    targets: list[tuple[int, str, int]] = field(default_factory=list)  # (atyp, host, port)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        with suppress(OSError):
            writer.close()


@asynccontextmanager
async def socks5_server(hosts: dict[str, str]) -> AsyncIterator[tuple[str, SocksLog]]:
    """A minimal SOCKS5 server (RFC 1928 CONNECT, RFC 1929 user/password); ``hosts`` maps
    names the proxy resolves itself to addresses."""
    log = SocksLog()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        if 2 in methods:
            writer.write(b"\x05\x02")
            _, ulen = await reader.readexactly(2)
            user = (await reader.readexactly(ulen)).decode()
            plen = (await reader.readexactly(1))[0]
            password = (await reader.readexactly(plen)).decode()
            log.auth.append((user, password))
            writer.write(b"\x01\x00")
        else:
            writer.write(b"\x05\x00")
        _, _, _, atyp = await reader.readexactly(4)
        if atyp == 1:
            host = socket.inet_ntoa(await reader.readexactly(4))
        elif atyp == 3:
            size = (await reader.readexactly(1))[0]
            host = (await reader.readexactly(size)).decode()
        else:
            host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
        port = int.from_bytes(await reader.readexactly(2), "big")
        log.targets.append((atyp, host, port))
        up_reader, up_writer = await asyncio.open_connection(hosts.get(host, host), port)
        writer.write(b"\x05\x00\x00\x01" + bytes(6))
        await writer.drain()
        async with asyncio.TaskGroup() as group:
            group.create_task(_pipe(reader, up_writer))
            group.create_task(_pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}", log
    finally:
        server.close()
        await server.wait_closed()


async def test_socks5h_sends_the_host_name_to_the_proxy() -> None:
    async with fake_upstream() as fake:
        fake.on("POST", "/generateAssistantResponse", stream_handler(FRAME))
        upstream_port = int(fake.url.rsplit(":", 1)[1])
        async with socks5_server({"kiro-upstream.test": "127.0.0.1"}) as (address, log):
            config = settings(url=f"http://kiro-upstream.test:{upstream_port}")
            async with HttpPool(config) as pool:
                client = KiroClient(config, pool)
                credential = social(
                    proxy_url=f"socks5h://{address}", proxy_username="su", proxy_password="sp"
                )
                stream = await client.open_stream(credential, request(), machine_id=MACHINE_ID)
                events = await collect(stream)
    assert events == [AssistantText("via proxy")]
    assert log.auth == [("su", "sp")]
    assert log.targets == [(3, "kiro-upstream.test", upstream_port)]


async def test_global_socks5_proxy_carries_the_request() -> None:
    async with fake_upstream() as fake:
        fake.on("POST", "/generateAssistantResponse", stream_handler(FRAME))
        upstream_port = int(fake.url.rsplit(":", 1)[1])
        async with socks5_server({}) as (address, log):
            config = settings(url=fake.url, proxy_url=f"socks5://{address}")
            async with HttpPool(config) as pool:
                client = KiroClient(config, pool)
                stream = await client.open_stream(social(), request(), machine_id=MACHINE_ID)
                events = await collect(stream)
    assert events == [AssistantText("via proxy")]
    assert log.auth == []
    assert log.targets == [(1, "127.0.0.1", upstream_port)]


async def test_unreachable_proxy_error_never_shows_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = closed.sockets[0].getsockname()[1]
    closed.close()
    await closed.wait_closed()
    caplog.set_level(logging.DEBUG)
    for scheme in ("http", "socks5"):
        config = settings(url="http://kiro-upstream.invalid:8080")
        async with HttpPool(config) as pool:
            client = KiroClient(config, pool)
            credential = social(proxy_url=f"{scheme}://user:hunter2@127.0.0.1:{port}")
            with pytest.raises(UpstreamConnectionError) as caught:
                await client.open_stream(credential, request(), machine_id=MACHINE_ID)
        assert "hunter2" not in str(caught.value)
        assert f"{scheme}://***@127.0.0.1:{port}" in str(caught.value)
    assert "hunter2" not in caplog.text


# ---------------------------------------------------------------- the environment's proxies
# Passed as ``environ=``: the process's own variables are never touched.


def test_bypassed_reads_no_proxy_like_curl() -> None:
    from kirogate.upstream.http import bypassed

    rules = "example.com, .internal,10.0.0.0/8 ,[::1]:8080,localhost:3000"
    assert bypassed("example.com", rules) and bypassed("api.example.com", rules)
    assert not bypassed("notexample.com", rules)
    assert bypassed("a.internal", rules) and bypassed("10.2.3.4", rules)
    assert bypassed("::1", rules) and bypassed("localhost", rules)
    assert not bypassed("11.0.0.1", rules)
    assert bypassed("anything", "*") and not bypassed("anything", "") and not bypassed("x", None)


def test_lower_case_variables_win_and_blank_ones_do_not_count() -> None:
    from kirogate.upstream.http import environment_proxies

    found = environment_proxies({"HTTPS_PROXY": "http://a:1", "https_proxy": "http://b:2",
                                 "NO_PROXY": " ", "ALL_PROXY": "socks5://c:3"})  # fmt: skip
    assert found == {"https_proxy": "http://b:2", "all_proxy": "socks5://c:3"}


def clean_proxy_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    """Only ``values`` among the proxy variables, for this test (aiohttp reads os.environ)."""
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


async def test_http_proxy_from_the_environment_carries_upstream_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.loopback_proxy import loopback_proxy

    async with fake_upstream() as fake:
        fake.on("POST", "/generateAssistantResponse", stream_handler(FRAME))
        config = settings(url=fake.url)
        with loopback_proxy() as proxy:
            clean_proxy_env(monkeypatch, HTTP_PROXY=proxy.url)
            async with HttpPool(config) as pool:
                assert pool.env_proxies == {"http_proxy": proxy.url}
                client = KiroClient(config, pool)
                stream = await client.open_stream(social(), request(), machine_id=MACHINE_ID)
                assert await collect(stream) == [AssistantText("via proxy")]
            assert any("generateAssistantResponse" in seen for seen in proxy.record.passed)
            # NO_PROXY naming the upstream's host: straight there.
            before = len(proxy.record.passed)
            clean_proxy_env(monkeypatch, http_proxy=proxy.url, no_proxy="127.0.0.1")
            async with HttpPool(config) as pool:
                client = KiroClient(config, pool)
                stream = await client.open_stream(social(), request(), machine_id=MACHINE_ID)
                assert await collect(stream) == [AssistantText("via proxy")]
            assert len(proxy.record.passed) == before
            # A configured proxy (here "direct") wins over the environment.
            clean_proxy_env(monkeypatch, HTTP_PROXY=proxy.url)
            direct = replace(config, proxy_url="direct")
            async with HttpPool(direct) as pool:
                assert pool.proxy_for(None) is None
                client = KiroClient(direct, pool)
                stream = await client.open_stream(social(), request(), machine_id=MACHINE_ID)
                assert await collect(stream) == [AssistantText("via proxy")]
            assert len(proxy.record.passed) == before


async def test_all_proxy_from_the_environment_may_be_socks_and_no_proxy_bypasses_it() -> None:
    async with fake_upstream() as fake:
        fake.on("POST", "/generateAssistantResponse", stream_handler(FRAME))
        config = settings(url=fake.url)
        async with socks5_server({}) as (address, log):
            async with HttpPool(config, environ={"ALL_PROXY": f"socks5://{address}"}) as pool:
                client = KiroClient(config, pool)
                stream = await client.open_stream(social(), request(), machine_id=MACHINE_ID)
                assert await collect(stream) == [AssistantText("via proxy")]
            assert len(log.targets) == 1
            environ = {"ALL_PROXY": f"socks5://{address}", "NO_PROXY": "127.0.0.0/8"}
            async with HttpPool(config, environ=environ) as pool:
                assert pool.proxy_for(None) is None
            bad = {"ALL_PROXY": "gopher://nowhere:1"}
            async with HttpPool(config, environ=bad) as pool:
                assert pool.proxy_for(None) is None  # ignored, with a warning
