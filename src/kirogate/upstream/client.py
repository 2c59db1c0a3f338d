"""The Kiro upstream client: the streaming call, web search, usage, models and profiles.

:meth:`KiroClient.open_stream` posts one ``generateAssistantResponse`` and returns an
:class:`UpstreamStream`, an async iterator of typed events decoded from the binary event
stream. Every failure leaves as a class of the error tree: HTTP errors through
:func:`~kirogate.upstream.classify.classify_http_error`, aiohttp and socket errors as
:class:`UpstreamConnectionError`, missed deadlines as :class:`UpstreamTimeout`.

The client does not refresh tokens, retry or fail over: it is handed a credential whose
bearer is fresh, makes one attempt and reports what happened.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import string
import time
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlencode

import aiohttp
import orjson
from yarl import URL

from kirogate.errors import (
    UpstreamConnectionError,
    UpstreamError,
    UpstreamTimeout,
)
from kirogate.protocol.request import ORIGIN_AI_EDITOR, KiroRequest
from kirogate.settings import UpstreamSettings
from kirogate.upstream.classify import classify_http_error
from kirogate.upstream.credentials import Credential, unusable_credential
from kirogate.upstream.endpoints import Endpoints, resolve_endpoints
from kirogate.upstream.http import HttpPool, connection_errors
from kirogate.upstream.identity import data_plane_headers, mcp_headers, usage_headers
from kirogate.upstream.stream import UpstreamStream

log = logging.getLogger(__name__)

ERROR_BODY_LIMIT: Final = 64 * 1024  # bytes of an error body read before classifying
JSON_BODY_LIMIT: Final = 8 * 1024 * 1024  # a JSON answer (usage, models, mcp) larger is an error
MAX_PAGES: Final = 20  # nextToken pages followed by list_models / list_profiles

_ALNUM: Final = string.ascii_letters + string.digits
_LOWER_ALNUM: Final = string.ascii_lowercase + string.digits


def wire_request(
    credential: Credential, request: KiroRequest | Mapping[str, Any]
) -> dict[str, Any]:
    """The JSON body for ``credential``: its profileArn set, and none at all for API keys.

    The credential's ARN replaces any in the request (kiro.rs does the same, so a refresh
    or a switch of credential never sends a stale one).
    """
    # kiro-cli with an API key never sends profileArn; the upstream rejects a foreign one.
    arn = None if credential.is_api_key else credential.profile_arn
    if isinstance(request, KiroRequest):
        wire = request.to_wire(profile_arn=arn)
    else:
        wire = dict(request)
        if arn:
            wire["profileArn"] = arn
    if credential.is_api_key:
        wire.pop("profileArn", None)
    return wire


def wire_body(credential: Credential, body: bytes) -> bytes:
    """:func:`wire_request` for a request already serialised without a profileArn (the
    builder's size check made these bytes): the ARN goes in as ``to_wire`` puts it, last."""
    if credential.is_api_key or not credential.profile_arn:
        return body
    return body[:-1] + b',"profileArn":' + orjson.dumps(credential.profile_arn) + b"}"


def mcp_request_id(*, now_ms: int | None = None) -> str:
    """``web_search_tooluse_{22 alnum}_{unix ms}_{8 lowercase alnum}`` as kiro.rs builds it."""
    stamp = int(time.time() * 1000) if now_ms is None else now_ms
    head = "".join(secrets.choice(_ALNUM) for _ in range(22))
    tail = "".join(secrets.choice(_LOWER_ALNUM) for _ in range(8))
    return f"web_search_tooluse_{head}_{stamp}_{tail}"


def _empty_search(query: str, error: str | None) -> dict[str, Any]:
    return {"results": [], "totalResults": 0, "query": query, "error": error}


def _search_results(data: dict[str, Any], query: str) -> dict[str, Any]:
    # result.content[0].text is itself a JSON string holding results[] (spec data §6).
    error = data.get("error")
    if error:
        message = error.get("message") if isinstance(error, dict) else str(error)
        return _empty_search(query, str(message or "web search failed"))
    result = data.get("result")
    if not isinstance(result, dict):
        return _empty_search(query, "web search answer has no result")
    if result.get("isError"):
        return _empty_search(query, "web search reported an error")
    content = result.get("content")
    for item in content if isinstance(content, list) else ():
        if isinstance(item, dict) and isinstance(item.get("text"), str):
            try:
                parsed = orjson.loads(item["text"])
            except orjson.JSONDecodeError:
                return _empty_search(query, "web search result is not JSON")
            if isinstance(parsed, dict) and isinstance(parsed.get("results"), list):
                return parsed
            return _empty_search(query, "web search result has no results list")
    return _empty_search(query, "web search answer has no text content")


async def _read_limited(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of the body, and whether the body was longer."""
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await response.content.read(limit + 1 - size)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    body = b"".join(parts)
    return body[:limit], size > limit


class KiroClient:
    """One-attempt calls to the Kiro upstream for a given (fresh) credential."""

    def __init__(self, settings: UpstreamSettings, http_pool: HttpPool) -> None:
        self._settings = settings
        self._pool = http_pool
        self._endpoints: dict[str | None, Endpoints] = {}
        # generateAssistantResponse as a parsed URL per API region: aiohttp takes it as it is
        # instead of parsing the string on every request.
        self._stream_urls: dict[str | None, URL] = {}

    @property
    def settings(self) -> UpstreamSettings:
        return self._settings

    def apply_settings(self, settings: UpstreamSettings) -> None:
        """Take new timeouts for the next call (a runtime change)."""
        if (settings.url, settings.host_style, settings.region) != (
            self._settings.url,
            self._settings.host_style,
            self._settings.region,
        ):
            self._endpoints.clear()
            self._stream_urls.clear()
        self._settings = settings

    def endpoints_for(self, credential: Credential) -> Endpoints:
        """The upstream URLs for the credential's API region."""
        key = credential.api_region
        endpoints = self._endpoints.get(key)
        if endpoints is None:
            endpoints = resolve_endpoints(
                self._settings,
                api_region=key,
                auth_region=credential.effective_auth_region,
            )
            self._endpoints[key] = endpoints
        return endpoints

    def _stream_url(self, credential: Credential) -> URL:
        key = credential.api_region
        url = self._stream_urls.get(key)
        if url is None:
            url = URL(self.endpoints_for(credential).generate_assistant_response())
            self._stream_urls[key] = url
        return url

    # ------------------------------------------------------------ the streaming call

    async def open_stream(
        self,
        credential: Credential,
        request: KiroRequest | Mapping[str, Any] | bytes,
        *,
        machine_id: str,
    ) -> UpstreamStream:
        """POST ``generateAssistantResponse``; return the open event stream or raise.

        ``request`` may be the builder's serialised body (``KiroBuild.body``), sent as it is
        with the credential's profileArn added (:func:`wire_body`).

        Raises the classified error for a non-2xx answer, :class:`UpstreamTimeout` when no
        response headers arrive within the first-token timeout and
        :class:`UpstreamConnectionError` when the upstream cannot be reached.
        """
        settings = self._settings
        url = self._stream_url(credential)
        if isinstance(request, bytes):
            body = wire_body(credential, request)
        else:
            body = orjson.dumps(wire_request(credential, request))
        headers = data_plane_headers(credential, settings, machine_id=machine_id)
        deadline = asyncio.get_running_loop().time() + settings.first_token_timeout
        response = await self._send(
            "POST", url, credential, deadline=deadline, headers=headers, data=body
        )
        if not 200 <= response.status < 300:
            raise await self._http_error(response)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "upstream %d generateAssistantResponse via %s", response.status, credential.label
            )
        return UpstreamStream(
            response, first_deadline=deadline, idle_timeout=settings.stream_idle_timeout
        )

    # ------------------------------------------------------------ JSON calls

    async def web_search(
        self, credential: Credential, query: str, *, machine_id: str
    ) -> dict[str, Any]:
        """Run the MCP ``web_search`` tool; a JSON-RPC error yields empty results.

        The answer is the parsed ``{"results": [...], "totalResults": …, "query": …}``; HTTP
        failures raise like every other call so the pool can retry or fail over.
        """
        payload = {
            "id": mcp_request_id(),
            "jsonrpc": "2.0",
            "method": "tools/call",
            "params": {"name": "web_search", "arguments": {"query": query}},
        }
        headers = mcp_headers(credential, self._settings, machine_id=machine_id)
        data = await self._json_call(
            "POST",
            self.endpoints_for(credential).mcp(),
            credential,
            headers=headers,
            data=orjson.dumps(payload),
        )
        results = _search_results(data, query)
        if results.get("error") and not results["results"]:
            log.info("web search found nothing: %s", results["error"])
        return results

    async def usage_limits(self, credential: Credential, *, machine_id: str) -> dict[str, Any]:
        """The raw ``getUsageLimits`` answer (quota math belongs to the pool)."""
        params = [
            ("origin", ORIGIN_AI_EDITOR),
            ("resourceType", "AGENTIC_REQUEST"),
            ("isEmailRequired", "true"),
        ]
        params += self._profile_param(credential)
        headers = usage_headers(credential, self._settings, machine_id=machine_id)
        url = _with_query(self.endpoints_for(credential).usage_limits(), params)
        return await self._json_call("GET", url, credential, headers=headers)

    async def list_models(self, credential: Credential, *, machine_id: str) -> list[dict[str, Any]]:
        """``ListAvailableModels?origin=AI_EDITOR``: the ``models`` list, all pages."""
        base = self.endpoints_for(credential).list_models()
        params = [("origin", ORIGIN_AI_EDITOR), *self._profile_param(credential)]
        models: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            page = params + ([("nextToken", token)] if token else [])
            headers = usage_headers(credential, self._settings, machine_id=machine_id)
            data = await self._json_call(
                "GET", _with_query(base, page), credential, headers=headers
            )
            models += [item for item in data.get("models") or () if isinstance(item, dict)]
            token = data.get("nextToken") if isinstance(data.get("nextToken"), str) else None
            if not token:
                break
        return models

    async def list_profiles(
        self, credential: Credential, *, machine_id: str
    ) -> list[dict[str, Any]]:
        """``POST listAvailableProfiles`` with ``{}``: the ``profiles`` list, all pages."""
        url = self.endpoints_for(credential).list_profiles()
        profiles: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            headers = usage_headers(credential, self._settings, machine_id=machine_id)
            headers["content-type"] = "application/json"
            body = orjson.dumps({"nextToken": token} if token else {})
            data = await self._json_call("POST", url, credential, headers=headers, data=body)
            profiles += [item for item in data.get("profiles") or () if isinstance(item, dict)]
            token = data.get("nextToken") if isinstance(data.get("nextToken"), str) else None
            if not token:
                break
        return profiles

    # ------------------------------------------------------------ plumbing

    def _profile_param(self, credential: Credential) -> list[tuple[str, str]]:
        if credential.profile_arn and not credential.is_api_key:
            return [("profileArn", credential.profile_arn)]
        return []

    async def _send(
        self,
        method: str,
        url: str | URL,
        credential: Credential,
        *,
        deadline: float,
        headers: dict[str, str],
        data: bytes | None = None,
    ) -> aiohttp.ClientResponse:
        """Send one request; the response is returned once its headers are in."""
        session, proxy = self._pool.session_for(credential)
        try:
            async with asyncio.timeout_at(deadline):
                return await session.request(method, url, headers=headers, data=data, proxy=proxy)
        except aiohttp.ClientError as exc:  # before TimeoutError: aiohttp's connect timeout is both
            raise self._connection_error(credential, exc) from exc
        except TimeoutError as exc:
            raise UpstreamTimeout(
                f"no response from upstream within {self._settings.first_token_timeout:g}s"
            ) from exc
        except connection_errors() as exc:
            raise self._connection_error(credential, exc) from exc
        except ValueError as exc:
            # aiohttp refuses a header with a control character (and, like it, a bad
            # encoding): the request cannot be built with this credential's fields.
            raise unusable_credential(credential, exc) from exc

    def _connection_error(
        self, credential: Credential, exc: BaseException
    ) -> UpstreamConnectionError:
        target = self._pool.proxy_for(credential)
        route = f" via {target.describe()}" if target is not None else ""
        # A pool proxy that cannot be reached rests; the next call takes another one.
        self._pool.report_proxy_failure(credential)
        # The library's exception text is for the operator's log, not for the client.
        log.warning("cannot reach upstream%s: %s: %s", route, type(exc).__name__, exc)
        return UpstreamConnectionError(f"cannot reach upstream{route}")

    async def _http_error(self, response: aiohttp.ClientResponse) -> UpstreamError:
        """Read (a bounded prefix of) an error body and classify it; the response is closed."""
        body = b""
        unreadable: tuple[type[Exception], ...] = (TimeoutError, *connection_errors())
        try:
            async with asyncio.timeout(self._settings.connect_timeout):
                body, _ = await _read_limited(response, ERROR_BODY_LIMIT)
        except unreadable as exc:
            log.debug("could not read the %d error body: %r", response.status, exc)
        finally:
            response.release()  # reused only if the whole body was read
        error = classify_http_error(response.status, body, response.headers)
        log.debug("upstream %d %s", response.status, error.reason or "")
        return error

    async def _json_call(
        self,
        method: str,
        url: str | URL,
        credential: Credential,
        *,
        headers: dict[str, str],
        data: bytes | None = None,
    ) -> dict[str, Any]:
        """One non-streaming call whose 2xx answer is a JSON object; bounded by the
        first-token timeout from send to last byte."""
        deadline = asyncio.get_running_loop().time() + self._settings.first_token_timeout
        response = await self._send(
            method, url, credential, deadline=deadline, headers=headers, data=data
        )
        if not 200 <= response.status < 300:
            raise await self._http_error(response)
        try:
            async with asyncio.timeout_at(deadline):
                body, too_long = await _read_limited(response, JSON_BODY_LIMIT)
        except TimeoutError as exc:
            raise UpstreamTimeout("upstream answer body did not arrive in time") from exc
        except connection_errors() as exc:
            raise self._connection_error(credential, exc) from exc
        finally:
            response.release()  # reused only if the whole body was read
        if too_long:
            raise UpstreamError(
                f"upstream answer exceeds {JSON_BODY_LIMIT} bytes", upstream_status=response.status
            )
        try:
            parsed = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError as exc:
            raise UpstreamError(
                "upstream answered with invalid JSON",
                upstream_status=response.status,
                body=body[:4096].decode("utf-8", "replace"),
            ) from exc
        if not isinstance(parsed, dict):
            raise UpstreamError(
                "upstream answered with JSON that is not an object",
                upstream_status=response.status,
            )
        return parsed


def _with_query(url: str, params: list[tuple[str, str]]) -> URL:
    # urlencode percent-encodes ':' and '/' in the ARN, as kiro.rs does.
    return URL(f"{url}?{urlencode(params)}", encoded=True)
