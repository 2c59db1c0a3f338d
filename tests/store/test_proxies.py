import pytest

from kirogate.errors import InvalidRequest, NotFound
from kirogate.store import ProxyRecord


async def test_add_and_list_proxies(store):
    one = await store.add_proxy("http://proxy.local:3128", label="office")
    two = await store.add_proxy("socks5h://user:p%40ss@10.0.0.2:1080")
    listed = await store.list_proxies()
    assert listed == [one, two]
    assert one == ProxyRecord(one.id, "http://proxy.local:3128", None, None, "office")
    assert (two.url, two.username, two.password) == ("socks5h://10.0.0.2:1080", "user", "p@ss")


async def test_password_is_masked_in_repr_and_public_view(store):
    proxy = await store.add_proxy(
        "https://proxy:8443", username="kiro", password="a-very-long-proxy-password"
    )
    assert "a-very-long-proxy-password" not in repr(proxy)
    public = proxy.to_public()
    assert public["password"] == "a-ve…word"
    assert "a-very-long-proxy-password" not in str(public)


async def test_connect_url_carries_quoted_credentials(store):
    proxy = await store.add_proxy("socks5://h:1080", username="u@x", password="p:w/d")
    assert proxy.connect_url() == "socks5://u%40x:p%3Aw%2Fd@h:1080"
    bare = await store.add_proxy("http://[2001:db8::5]:8080")
    assert bare.connect_url() == "http://[2001:db8::5]:8080"


async def test_get_and_remove(store):
    proxy = await store.add_proxy("http://h:1", password="pw", username="u")
    assert (await store.get_proxy(proxy.id)).password == "pw"
    await store.remove_proxy(proxy.id)
    assert await store.list_proxies() == []
    with pytest.raises(NotFound):
        await store.remove_proxy(proxy.id)
    with pytest.raises(NotFound):
        await store.get_proxy(proxy.id)


@pytest.mark.parametrize(
    ("url", "kwargs", "message"),
    [
        ("ftp://h:21", {}, "scheme 'ftp' is not supported"),
        ("socks4://h:1080", {}, "scheme 'socks4' is not supported"),
        ("h:8080", {}, "is not supported"),
        ("http://:8080", {}, "has no host"),
        ("http://h:99999", {}, "invalid proxy URL"),
        ("http://h:1/path", {}, "no path"),
        ("http://u:p@h:1", {"password": "x"}, "not both"),
        ("", {}, "give the proxy URL"),
        ("http://h:1", {"label": "l" * 201}, "longer than 200"),
    ],
)
async def test_bad_proxies_are_refused(store, url, kwargs, message):
    with pytest.raises(InvalidRequest, match=message):
        await store.add_proxy(url, **kwargs)


async def test_update_proxy_fields_and_disable(store):
    proxy = await store.add_proxy("http://h:1", username="u", password="pw", label="a")
    changed = await store.update_proxy(proxy.id, label="b", disabled=True)
    assert (changed.label, changed.disabled, changed.password) == ("b", True, "pw")
    moved = await store.update_proxy(proxy.id, url="socks5://x:y@h2:1080")
    assert (moved.url, moved.username, moved.password) == ("socks5://h2:1080", "x", "y")
    kept = await store.update_proxy(proxy.id, url="socks5://h3:1080", password=None)
    assert (kept.username, kept.password) == ("x", None)
    assert await store.get_proxy(proxy.id) == kept
    assert kept.to_public()["disabled"] is True


async def test_update_proxy_refuses_bad_input(store):
    proxy = await store.add_proxy("http://h:1")
    with pytest.raises(InvalidRequest, match="not supported"):
        await store.update_proxy(proxy.id, url="ftp://h:1")
    with pytest.raises(InvalidRequest, match="true or false"):
        await store.update_proxy(proxy.id, disabled="yes")
    with pytest.raises(InvalidRequest, match="unknown proxy field"):
        await store.update_proxy(proxy.id, colour="red")
    with pytest.raises(NotFound):
        await store.update_proxy(proxy.id + 1, label="x")
