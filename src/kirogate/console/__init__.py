"""The web console at ``/admin``: its page, its files, and its sign-in route.

The console is a client of the documented admin API (``/api/admin/...``) and nothing else;
this module only serves its files and turns the admin key into a session cookie
(:mod:`kirogate.service.console_sessions`):

- ``POST /admin/session`` with ``{"key": "<admin key>"}`` signs in (wrong keys throttled per
  address exactly as on the admin API) and sets the cookie: HttpOnly, SameSite=Strict, Secure
  when the page was reached over HTTPS, expiring after ``console.session_lifetime``;
- ``GET /admin/session`` tells the page whether it is signed in (``signed_in``), and hands it
  the CSRF token;
- ``DELETE /admin/session`` (with the CSRF token) signs out.

Every console response carries a strict Content-Security-Policy (no inline script or style,
this origin only, no framing), on top of what every response of the gateway carries
(X-Frame-Options DENY, nosniff, ``Referrer-Policy: no-referrer``).
"""

from __future__ import annotations

import html
import logging
from typing import Any

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from kirogate import __version__
from kirogate.admin.auth import (
    OFF_MESSAGE,
    check_csrf,
    client_address,
    configured_admin_key,
    console_session,
    sign_in_throttle,
)
from kirogate.api.addresses import forwarded_https
from kirogate.api.auth import key_matches
from kirogate.api.errors import Dialect, error_response
from kirogate.api.json_reply import json_response
from kirogate.api.request_gate import gateway_of
from kirogate.console.assets import asset
from kirogate.errors import AuthenticationFailed, InvalidRequest, KirogateError, NotFound
from kirogate.service.audit import ADMIN_CALL, AdminCall
from kirogate.service.console_sessions import COOKIE

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

CONSOLE_PATH = "/admin"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
# With what every response already carries (nosniff, no Referer, no framing: the app's
# middleware adds those).
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
WRONG_KEY = "that is not the admin key"
# The console's pages (``/admin/<page>`` all load the same document; the script draws the page).
PAGES = frozenset(
    {
        "overview",
        "credentials",
        "playground",
        "logs",
        "keys",
        "addresses",
        "settings",
        "connect",
        "audit",
    }
)


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _secure(request: Request) -> bool:
    """Whether the browser reached this page over HTTPS: directly, or through a proxy in
    ``server.trusted_proxies`` that says so with ``X-Forwarded-Proto``."""
    return request.url.scheme == "https" or forwarded_https(request, gateway_of(request).settings)


def _headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**SECURITY_HEADERS, "cache-control": "no-store", **(extra or {})}


# The shell's modules, announced up front so the browser fetches them side by side rather than
# one import level at a time.
_SHELL_MODULES = (
    "vendor/preact.mjs",
    "vendor/preact-hooks.mjs",
    "vendor/htm.mjs",
    "lib/preact.js",
    "lib/api.js",
    "lib/i18n.js",
    "lib/router.js",
    "lib/icons.js",
    "lib/ui.js",
)


def _preloads(base: str) -> str:
    return "\n".join(f'<link rel="modulepreload" href="{base}/{name}">' for name in _SHELL_MODULES)


def index_html(root: str, lang: str = "en") -> str:
    """The one document of every console page (escaped: ``root`` comes from the request)."""
    r = html.escape(root, quote=True)
    base = f"{r}{CONSOLE_PATH}/static"
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="kirogate-root" content="{r}">
<meta name="kirogate-version" content="{html.escape(__version__, quote=True)}">
<meta name="color-scheme" content="light dark">
<title>kirogate console</title>
<link rel="icon" href="{base}/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="{base}/app.css">
{_preloads(base)}
<script type="module" src="{base}/app.js"></script>
</head>
<body><div id="app" class="boot" aria-busy="true"></div>
<noscript><p class="noscript">The kirogate console needs JavaScript.</p></noscript>
</body></html>
"""


def _page(request: Request) -> Response:
    gateway = gateway_of(request)
    if configured_admin_key(gateway) is None:
        return error_response(NotFound(OFF_MESSAGE), Dialect.ADMIN)
    return Response(
        index_html(_root(request)), media_type="text/html; charset=utf-8", headers=_headers()
    )


@router.get(CONSOLE_PATH)
async def console_home(request: Request) -> Response:
    return _page(request)


@router.get(CONSOLE_PATH + "/static/{name:path}")
async def console_asset(request: Request, name: str) -> Response:
    found = asset(name)
    if found is None:
        return error_response(NotFound(f"no console file {name!r}"), Dialect.ADMIN)
    headers = {**SECURITY_HEADERS, "cache-control": "no-cache", "etag": found.etag}
    headers["vary"] = "accept-encoding"
    if request.headers.get("if-none-match") == found.etag:
        return Response(status_code=304, headers=headers)
    body = found.body
    if found.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        body = found.gzipped
        headers["content-encoding"] = "gzip"
    return Response(body, media_type=found.media_type, headers=headers)


def _session_body(request: Request, csrf: str, expires: int, actor: str) -> dict[str, Any]:
    gateway = gateway_of(request)
    announcement = gateway.settings.console.announcement
    return {
        "signed_in": True,
        "csrf": csrf,
        "expires": expires,
        "actor": actor,
        "version": __version__,
        "announcement": announcement or None,
    }


@router.get(CONSOLE_PATH + "/session")
async def session_status(request: Request) -> Response:
    """Whether this browser is signed in (with the CSRF token) or not (``signed_in: false``:
    not being signed in is the sign-in page's normal state, not an error)."""
    gateway = gateway_of(request)
    if configured_admin_key(gateway) is None:
        return error_response(NotFound(OFF_MESSAGE), Dialect.ADMIN)
    session = await console_session(request, gateway)
    if session is None:
        return json_response({"signed_in": False}, headers=_headers())
    body = _session_body(request, session.csrf, session.expires, session.actor)
    return json_response(body, headers=_headers())


@router.post(CONSOLE_PATH + "/session")
async def sign_in(request: Request) -> Response:
    """Sign in with the admin key: a session cookie and the CSRF token, or 401/429."""
    gateway = gateway_of(request)
    expected = configured_admin_key(gateway)
    if expected is None:
        return error_response(NotFound(OFF_MESSAGE), Dialect.ADMIN)
    try:
        presented = _presented_key(await request.body())
        throttle = sign_in_throttle(request, gateway)
        address = client_address(request, gateway)
        await throttle.check(address)
        if not key_matches(presented, [expected]):
            log.warning("console: a wrong admin key from %s", address)
            await throttle.failed(address)
            raise AuthenticationFailed(WRONG_KEY)
    except KirogateError as exc:
        return error_response(exc, Dialect.ADMIN)
    lifetime = gateway.settings.console.session_lifetime
    token, session = gateway.console_sessions.issue(expected, lifetime)
    await _audit(request, "console.sign_in", session.actor)
    log.info("console: signed in from %s (session %s)", address, session.id[:8])
    body = _session_body(request, session.csrf, session.expires, session.actor)
    response = json_response(body, headers=_headers())
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(lifetime),
        path=_root(request) + "/",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
    return response


@router.delete(CONSOLE_PATH + "/session")
async def sign_out(request: Request) -> Response:
    """End this browser's session (the CSRF token is needed: another site cannot sign you out)."""
    gateway = gateway_of(request)
    session = await console_session(request, gateway)
    if session is not None:
        try:
            check_csrf(request, session)
        except KirogateError as exc:
            return error_response(exc, Dialect.ADMIN)
        await gateway.console_sessions.end(session)
        await _audit(request, "console.sign_out", session.actor)
    response = json_response({"signed_in": False}, headers=_headers())
    response.delete_cookie(
        COOKIE, path=_root(request) + "/", secure=_secure(request), httponly=True, samesite="strict"
    )
    return response


async def _audit(request: Request, action: str, actor: str) -> None:
    """The audit row of a sign-in or sign-out, by the session it concerns."""
    gateway = gateway_of(request)
    call = AdminCall(
        actor=actor,
        address=client_address(request, gateway),
        method=request.method,
        path=request.url.path,
        name=action,
    )
    token = ADMIN_CALL.set(call)
    try:
        await gateway.operations.audit_event(action)
    finally:
        ADMIN_CALL.reset(token)


def _presented_key(raw: bytes) -> str:
    try:
        body = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest('send the admin key as JSON: {"key": "..."}') from exc
    key = body.get("key") if isinstance(body, dict) else None
    if not isinstance(key, str) or not key.strip():
        raise InvalidRequest('send the admin key as JSON: {"key": "..."}')
    return key.strip()


@router.get(CONSOLE_PATH + "/{page}")
async def console_page(request: Request, page: str) -> Response:
    """Every console page is the same document (its script draws the page the path names)."""
    if page not in PAGES:
        if page.rstrip("/") == "":
            return RedirectResponse(_root(request) + CONSOLE_PATH, status_code=308)
        return error_response(NotFound(f"no console page {page!r}"), Dialect.ADMIN)
    return _page(request)
