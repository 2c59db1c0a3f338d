"""The console's routes without a browser: the page, its files, sign-in, sessions on the admin
API and the playground, CSRF, throttling, security headers and the first load's size."""

from __future__ import annotations

import gzip
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from kirogate.api.app import create_app
from kirogate.console import CSP, index_html
from kirogate.console.assets import STATIC_DIR
from kirogate.metrics import GatewayMetrics
from kirogate.service import Gateway
from kirogate.settings import load_settings

ADMIN_KEY = "admin-key-console-routes"
FIRST_LOAD_BUDGET = 300 * 1024


async def _client(
    tmp_path: Path, base_url: str = "http://gw.test", **overrides: object
) -> AsyncIterator[httpx2.AsyncClient]:
    settings = {
        "server.admin_key": ADMIN_KEY,
        "server.api_keys": ("client-key",),
        "data_dir": tmp_path,
        "server.admin_auth_failures": 3,
        **overrides,
    }
    gateway = Gateway(load_settings({}, settings), [])
    app = create_app(gateway, metrics=GatewayMetrics(), environ={})
    transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 1))
    async with httpx2.AsyncClient(transport=transport, base_url=base_url) as client:
        yield client
    await gateway.close()


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx2.AsyncClient]:
    async for client in _client(tmp_path):
        yield client


async def sign_in(http: httpx2.AsyncClient) -> str:
    response = await http.post("/admin/session", json={"key": ADMIN_KEY})
    assert response.status_code == 200, response.text
    csrf: str = response.json()["csrf"]
    return csrf


async def test_the_page_is_served_with_strict_security_headers(http: httpx2.AsyncClient) -> None:
    for path in ("/admin", "/admin/credentials", "/admin/logs"):
        response = await http.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["content-security-policy"] == CSP
        assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
        assert "frame-ancestors 'none'" in CSP
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cross-origin-opener-policy"] == "same-origin"
    assert (await http.get("/admin/nope")).status_code == 404


async def test_every_file_the_page_names_is_served(http: httpx2.AsyncClient) -> None:
    page = (await http.get("/admin")).text
    names = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert len(names) >= 10
    for name in names:
        assert name.startswith("/admin/static/"), name
        assert (await http.get(name)).status_code == 200, name


def test_the_page_has_no_inline_script_or_style_and_escapes_its_root() -> None:
    page = index_html('/x"><script>alert(1)</script>')
    assert "<script>alert" not in page
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert "<style" not in page and "style=" not in page


async def test_files_are_compressed_and_revalidated(http: httpx2.AsyncClient) -> None:
    response = await http.get("/admin/static/app.css", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["cache-control"] == "no-cache"
    again = await http.get(
        "/admin/static/app.css", headers={"if-none-match": response.headers["etag"]}
    )
    assert again.status_code == 304
    assert (await http.get("/admin/static/../__init__.py")).status_code == 404
    assert (await http.get("/admin/static/nope.js")).status_code == 404


def _imports(source: str) -> list[str]:
    return re.findall(r'(?:from|import)\s*"(\.{1,2}/[^"]+)"', source)


def test_the_first_load_stays_under_300_kb_compressed() -> None:
    """The document, the stylesheet and every module the shell imports (not the pages, which
    load when shown; the overview is counted as the first page seen), gzip-compressed."""
    seen: set[Path] = set()
    todo = [STATIC_DIR / "app.js", STATIC_DIR / "pages" / "overview.js"]
    while todo:
        path = todo.pop().resolve()
        if path in seen:
            continue
        seen.add(path)
        if path.suffix in (".js", ".mjs"):
            todo += [path.parent / name for name in _imports(path.read_text(encoding="utf-8"))]
    files = [*seen, STATIC_DIR / "app.css", STATIC_DIR / "icon.svg"]
    charts = STATIC_DIR / "lib" / "charts.js"
    if charts.resolve() in seen:  # the overview's charts load uPlot
        files += [
            STATIC_DIR / "vendor" / "uPlot.iife.min.js",
            STATIC_DIR / "vendor" / "uPlot.min.css",
            STATIC_DIR / "lib" / "charts.css",
        ]
    total = len(gzip.compress(index_html("").encode()))
    total += sum(len(gzip.compress(path.read_bytes(), 9)) for path in files)
    assert total <= FIRST_LOAD_BUDGET, f"{total} bytes over {len(files)} files"


async def test_sign_in_sets_a_strict_cookie_and_answers_the_session(
    http: httpx2.AsyncClient,
) -> None:
    assert (await http.get("/admin/session")).json() == {"signed_in": False}
    response = await http.post("/admin/session", json={"key": ADMIN_KEY})
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("kirogate_console=v1.")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=43200" in cookie
    assert "Secure" not in cookie  # plain http here
    body = (await http.get("/admin/session")).json()
    assert body["signed_in"] is True and body["csrf"] == response.json()["csrf"]
    assert body["actor"].startswith("console:")
    assert ADMIN_KEY not in response.text


async def test_the_cookie_is_secure_over_https(tmp_path: Path) -> None:
    async for client in _client(tmp_path, base_url="https://gw.test"):
        response = await client.post("/admin/session", json={"key": ADMIN_KEY})
        assert "Secure" in response.headers["set-cookie"]


async def test_the_cookie_is_secure_behind_a_trusted_tls_proxy(tmp_path: Path) -> None:
    headers = {"x-forwarded-proto": "https"}
    async for client in _client(tmp_path, **{"server.trusted_proxies": ("127.0.0.1",)}):
        response = await client.post("/admin/session", json={"key": ADMIN_KEY}, headers=headers)
        assert "Secure" in response.headers["set-cookie"]
    async for client in _client(tmp_path / "untrusted"):  # anyone could send the header
        response = await client.post("/admin/session", json={"key": ADMIN_KEY}, headers=headers)
        assert "Secure" not in response.headers["set-cookie"]


async def test_wrong_keys_are_refused_then_throttled(http: httpx2.AsyncClient) -> None:
    for body in ({"key": "wrong"}, {"key": "wrong"}, {"key": "wrong"}):
        response = await http.post("/admin/session", json=body)
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "that is not the admin key"
    response = await http.post("/admin/session", json={"key": ADMIN_KEY})
    assert response.status_code == 429
    assert "retry-after" in response.headers


@pytest.mark.parametrize("body", [b"", b"[]", b"{", b'{"key": 3}', b'{"key": "  "}'])
async def test_a_sign_in_without_a_key_is_a_400(http: httpx2.AsyncClient, body: bytes) -> None:
    response = await http.post("/admin/session", content=body)
    assert response.status_code == 400
    assert "admin key" in response.json()["error"]["message"]


async def test_the_session_opens_the_admin_api_and_changes_need_the_csrf_token(
    http: httpx2.AsyncClient,
) -> None:
    assert (await http.get("/api/admin/groups")).status_code == 401
    csrf = await sign_in(http)
    assert (await http.get("/api/admin/groups")).status_code == 200
    refused = await http.post("/api/admin/groups", json={"name": "team-a"})
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]["message"]
    wrong = await http.post(
        "/api/admin/groups", json={"name": "team-a"}, headers={"x-csrf-token": "x"}
    )
    assert wrong.status_code == 403
    made = await http.post(
        "/api/admin/groups", json={"name": "team-a"}, headers={"x-csrf-token": csrf}
    )
    assert made.status_code in (200, 201), made.text
    trail = (await http.get("/api/admin/audit")).json()["items"]
    by_action = {row["name"]: row for row in trail}
    assert by_action["console.sign_in"]["actor"].startswith("console:")
    made_row = next(
        row for row in trail if row["action"] == "POST /api/admin/groups" and row["status"] < 300
    )
    assert made_row["actor"] == by_action["console.sign_in"]["actor"]


async def test_sign_out_needs_the_csrf_token_and_ends_the_session(http: httpx2.AsyncClient) -> None:
    csrf = await sign_in(http)
    cookie = http.cookies["kirogate_console"]
    assert (await http.delete("/admin/session")).status_code == 403
    response = await http.delete("/admin/session", headers={"x-csrf-token": csrf})
    assert response.json() == {"signed_in": False}
    http.cookies.clear()
    http.cookies.set("kirogate_console", cookie)  # a kept copy of the cookie is no good
    assert (await http.get("/admin/session")).json() == {"signed_in": False}
    expired = await http.get("/api/admin/groups")
    assert expired.status_code == 401
    assert "sign in again" in expired.json()["error"]["message"]


async def test_the_playground_chats_with_the_session_and_its_csrf_token(
    http: httpx2.AsyncClient,
) -> None:
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "hi"}],
    }
    assert (await http.post("/v1/messages", json=body)).status_code == 401
    csrf = await sign_in(http)
    refused = await http.post("/v1/messages", json=body)
    assert refused.status_code == 403
    assert refused.json()["type"] == "error"  # in the client's dialect
    assert "CSRF" in refused.json()["error"]["message"]
    # With the token the request passes the gate (no credential here: the pool's refusal).
    passed = await http.post("/v1/messages", json=body, headers={"x-csrf-token": csrf})
    assert "no credentials configured" in passed.json()["error"]["message"]
    forged = http.cookies["kirogate_console"][:-3] + "AAA"
    http.cookies.clear()
    http.cookies.set("kirogate_console", forged)
    assert (
        await http.post("/v1/messages", json=body, headers={"x-csrf-token": csrf})
    ).status_code == 401


async def test_the_console_is_off_without_an_admin_key(tmp_path: Path) -> None:
    async for client in _client(tmp_path, **{"server.admin_key": None}):
        for method, path in (("GET", "/admin"), ("GET", "/admin/session"), ("GET", "/admin/logs")):
            response = await client.request(method, path)
            assert response.status_code == 404
            assert "--admin-key" in response.json()["error"]["message"]
        assert (await client.post("/admin/session", json={"key": "x"})).status_code == 404
