"""Operators' actions on the proxy pool: add, edit, remove, test, assign; every process follows.

The store holds the proxies (passwords encrypted) and each credential's ``proxy_id``; the
gateway's :class:`~kirogate.pool.proxies.ProxyPool` holds them in memory with their health.
A change is stored first, then this process's pool takes it, then the ``proxies`` topic tells
every other process to reload (:meth:`ProxyOperations.reload_proxies`, its listener).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kirogate.errors import NotFound
from kirogate.pool.proxies import ProxyEntry, ProxyPool
from kirogate.upstream.endpoints import resolve_endpoints
from kirogate.upstream.http import (
    ProbeResult,
    describe_proxy,
    environment_proxies,
    probe_proxy,
)

if TYPE_CHECKING:
    from kirogate.pool.credential_pool import CredentialPool
    from kirogate.service.changes import ChangeFeed
    from kirogate.settings import Settings, UpstreamSettings
    from kirogate.store import ProxyRecord, Store

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 10.0


def _entry(record: ProxyRecord) -> ProxyEntry:
    return ProxyEntry(record.id, record.connect_url(), label=record.label, disabled=record.disabled)


def _mask_user(username: str | None) -> str | None:
    """The first two characters of a proxy username (the whole one only when it is short)."""
    if username is None:
        return None
    return username[:2] + "***" if len(username) > 4 else "***"


def _same_proxy(a: str, b: str) -> bool:
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


class ProxyOperations:
    """The proxy pool's operations; a mixin of :class:`~kirogate.service.operations.Operations`."""

    changes: ChangeFeed
    _proxies: ProxyPool | None

    def _stored(self) -> Store:  # pragma: no cover - Operations' own wins
        raise NotImplementedError

    def _pool_or_none(self) -> CredentialPool | None:  # pragma: no cover - Operations' own wins
        raise NotImplementedError

    def _upstream_settings(self) -> UpstreamSettings:  # pragma: no cover - Operations' own wins
        raise NotImplementedError

    # ------------------------------------------------------------ reading

    async def proxy_views(self) -> list[dict[str, Any]]:
        """Every stored proxy, masked, with this process's health of it and who uses it."""
        store = self._stored()
        records = await store.list_proxies()
        assigned: dict[int, list[int]] = {}
        for credential in await store.list_credentials():
            if credential.proxy_id is not None and credential.id is not None:
                assigned.setdefault(credential.proxy_id, []).append(credential.id)
        health = {row["id"]: row for row in self._proxies.snapshot()} if self._proxies else {}
        strategy = self._proxies.strategy.value if self._proxies is not None else None
        views = []
        for record in records:
            view = record.to_public()
            view["username"] = _mask_user(record.username)
            row = health.get(record.id, {})
            view["down_for"] = row.get("coolingFor")
            view["failures"] = row.get("failures", 0)
            view["uses"] = row.get("uses", 0)
            view["credentials"] = sorted(assigned.get(record.id, []))
            view["strategy"] = strategy
            views.append(view)
        return views

    async def proxy_view(self, proxy_id: int) -> dict[str, Any]:
        for view in await self.proxy_views():
            if view["id"] == proxy_id:
                return view
        raise NotFound(f"proxy {proxy_id} does not exist")

    # ------------------------------------------------------------ changes

    async def add_proxy(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        label: str | None = None,
    ) -> ProxyRecord:
        record = await self._stored().add_proxy(
            url, username=username, password=password, label=label
        )
        self._take(record)
        log.info("proxy #%s added", record.id)
        await self.changes.changed("proxies")
        return record

    async def update_proxy(self, proxy_id: int, **changes: Any) -> ProxyRecord:
        record = await self._stored().update_proxy(proxy_id, **changes)
        self._take(record)
        log.info("proxy #%s changed (%s)", proxy_id, ", ".join(sorted(changes)))
        await self.changes.changed("proxies")
        return record

    async def remove_proxy(self, proxy_id: int) -> None:
        store = self._stored()
        await store.remove_proxy(proxy_id)
        if self._proxies is not None:
            with contextlib.suppress(NotFound):  # the pool had not taken it yet
                self._proxies.remove(proxy_id)
        self._assign_live(None, dropped=proxy_id)
        log.info("proxy #%s removed", proxy_id)
        await self.changes.changed("proxies")

    async def assign_proxy(self, credential_id: int, proxy_id: int | None) -> None:
        """Pin a credential to a stored proxy (``None``: back to the pool's strategy)."""
        await self._stored().update_credential(credential_id, proxy_id=proxy_id)
        self._assign_live(credential_id, proxy_id=proxy_id)
        log.info("credential #%s: proxy %s", credential_id, proxy_id or "from the pool")
        await self.changes.changed("proxies")

    async def seed_proxies(self, urls: tuple[str, ...]) -> int:
        """Store the proxies given at start (``PROXY_POOL``) that are not stored yet."""
        if not urls:
            return 0
        store = self._stored()
        known = [record.connect_url() for record in await store.list_proxies()]
        added = 0
        for url in urls:
            if any(_same_proxy(url, seen) for seen in known):
                continue
            record = await store.add_proxy(url, label="PROXY_POOL")
            known.append(record.connect_url())
            added += 1
        if added:
            log.info("proxy pool: %d proxy(ies) added from the environment", added)
            await self.changes.changed("proxies")
        return added

    async def reload_proxies(self) -> None:
        """Give the gateway's proxy pool the stored proxies and the credentials' assignments
        (no-op without a gateway); the ``proxies`` topic's listener."""
        store = self._stored() if self._proxies is not None else None
        if self._proxies is None or store is None:
            return
        self._proxies.replace(_entry(record) for record in await store.list_proxies())
        pool = self._pool_or_none()
        if pool is None:
            return
        stored = {c.id: c.proxy_id for c in await store.list_credentials() if c.id is not None}
        for credential in pool.credentials():
            if credential.id in stored:
                credential.proxy_id = stored[credential.id]

    def _take(self, record: ProxyRecord) -> None:
        if self._proxies is None:
            return
        kept = [entry for entry in self._proxies.entries() if entry.id != record.id]
        self._proxies.replace([*kept, _entry(record)])

    def _assign_live(
        self, credential_id: int | None, *, proxy_id: int | None = None, dropped: int | None = None
    ) -> None:
        pool = self._pool_or_none()
        if pool is None:
            return
        for credential in pool.credentials():
            if credential.id == credential_id or (
                dropped is not None and credential.proxy_id == dropped
            ):
                credential.proxy_id = proxy_id
                if self._proxies is not None and credential.id is not None:
                    self._proxies.assign(credential.id, None)  # the row's proxy_id decides

    async def credential_routes(
        self, settings: Settings, environ: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        """Which proxy each stored credential's calls take (masked), by the gateway's rules:
        its own proxy, else its assigned pool proxy, else the pool's strategy, else the
        global proxy, else the environment's, else direct."""
        store = self._stored()
        proxies = {record.id: record for record in await store.list_proxies()}
        usable = [record for record in proxies.values() if not record.disabled]
        strategy = settings.proxy.strategy
        if settings.upstream.proxy_url:
            default = describe_proxy(settings.upstream.proxy_url)
        else:
            found = environment_proxies(environ)
            named = found.get("https_proxy") or found.get("http_proxy") or found.get("all_proxy")
            default = f"{describe_proxy(named)} (environment)" if named else "direct"
        rows = []
        for credential in await store.list_credentials():
            own = credential.proxy_url
            assigned = proxies.get(credential.proxy_id) if credential.proxy_id else None
            if own:
                route = describe_proxy(own) + ("" if own.lower() == "direct" else " (own)")
            elif assigned is not None and not assigned.disabled:
                route = f"proxy #{assigned.id} {describe_proxy(assigned.connect_url())} (assigned)"
            elif usable and strategy != "assigned":
                route = f"proxy pool: {strategy} over {len(usable)} proxy(ies)"
            else:
                route = default
            rows.append({"id": credential.id, "label": credential.label, "proxy": route})
        return rows

    # ------------------------------------------------------------ test

    async def test_proxy(self, proxy_id: int) -> ProbeResult:
        """Connect through the proxy to the upstream's data-plane host; a plain-words answer."""
        record = await self._stored().get_proxy(proxy_id)
        target = resolve_endpoints(self._upstream_settings()).data
        result = await probe_proxy(record.connect_url(), target, limit=PROBE_TIMEOUT)
        if self._proxies is not None:
            if result.ok:
                self._proxies.report_success(record.connect_url())
            else:
                self._proxies.report_failure(record.connect_url())
        return result
