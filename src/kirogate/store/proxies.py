"""The proxy pool: proxies credentials can be assigned to; passwords encrypted at rest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import sqlalchemy as sa

from kirogate.errors import InvalidRequest, NotFound
from kirogate.store import values as check
from kirogate.store.base import StoreBase, inserted_id, utcnow
from kirogate.store.schema import proxies as table
from kirogate.upstream.credentials import mask_secret

PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


@dataclass(frozen=True, slots=True)
class ProxyRecord:
    """A stored proxy. ``url`` never carries the credentials; :meth:`connect_url` adds them."""

    id: int
    url: str
    username: str | None
    password: str | None = field(repr=False)
    label: str | None
    disabled: bool = False

    def connect_url(self) -> str:
        """The URL to hand to an HTTP client, with the username and password in it."""
        if not self.username:
            return self.url
        scheme, _, rest = self.url.partition("://")
        auth = quote(self.username, safe="")
        if self.password is not None:
            auth += ":" + quote(self.password, safe="")
        return f"{scheme}://{auth}@{rest}"

    def to_public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "username": self.username,
            "password": mask_secret(self.password),
            "label": self.label,
            "disabled": self.disabled,
        }


def parse_proxy_url(
    url: Any, username: str | None, password: str | None
) -> tuple[str, str | None, str | None]:
    """``scheme://host:port`` plus the credentials, taken from the URL or the arguments."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidRequest("give the proxy URL, e.g. http://host:8080", param="url")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise InvalidRequest(f"invalid proxy URL: {exc}", param="url") from None
    scheme = parts.scheme.lower()
    if scheme not in PROXY_SCHEMES:
        allowed = ", ".join(f"{s}://" for s in PROXY_SCHEMES)
        raise InvalidRequest(
            f"proxy scheme {scheme or '(none)'!r} is not supported; use {allowed}", param="url"
        )
    if not parts.hostname:
        raise InvalidRequest("the proxy URL has no host", param="url")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidRequest("a proxy URL has no path, query or fragment", param="url")
    if parts.username is not None or parts.password is not None:
        if username is not None or password is not None:
            raise InvalidRequest(
                "give the proxy credentials in the URL or as arguments, not both", param="url"
            )
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = f"{host}:{port}" if port is not None else host
    return f"{scheme}://{netloc}", username, password


def _record(row: sa.Row[Any], password: str | None) -> ProxyRecord:
    return ProxyRecord(row.id, row.url, row.username, password, row.label, bool(row.disabled))


class ProxiesMixin(StoreBase):
    async def add_proxy(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        label: str | None = None,
    ) -> ProxyRecord:
        """Store a proxy (http, https, socks5, socks5h); credentials may be in the URL."""
        check.optional_text(username, "username")
        check.optional_text(password, "password")
        clean_url, username, password = parse_proxy_url(url, username, password)
        label = check.text_for(table, "label", label)
        values = {
            "url": clean_url,
            "username": username,
            "password": self._box.encrypt(password),
            "label": label,
            "created_at": utcnow(),
        }
        async with self._writing() as conn:
            result = await conn.execute(sa.insert(table).values(**values))
        return ProxyRecord(inserted_id(result), clean_url, username, password, label)

    async def list_proxies(self) -> list[ProxyRecord]:
        async with self._reading() as conn:
            rows = list(await conn.execute(sa.select(table).order_by(table.c.id)))
        return [_record(row, self._box.decrypt(row.password)) for row in rows]

    async def get_proxy(self, proxy_id: int) -> ProxyRecord:
        async with self._reading() as conn:
            row = (await conn.execute(sa.select(table).where(table.c.id == proxy_id))).first()
        if row is None:
            raise NotFound(f"proxy {proxy_id} does not exist")
        return _record(row, self._box.decrypt(row.password))

    async def update_proxy(self, proxy_id: int, **changes: Any) -> ProxyRecord:
        """Change ``url``, ``username``, ``password``, ``label`` or ``disabled``.

        A new URL carrying credentials replaces both; without them the stored ones stay
        unless ``username`` / ``password`` are given (``None`` clears one).
        """
        unknown = set(changes) - {"url", "username", "password", "label", "disabled"}
        if unknown:
            raise InvalidRequest(f"unknown proxy field {sorted(unknown)[0]!r}", param="body")
        current = await self.get_proxy(proxy_id)
        url, username, password = current.url, current.username, current.password
        if "username" in changes:
            username = check.optional_text(changes["username"], "username")
        if "password" in changes:
            password = check.optional_text(changes["password"], "password")
        if "url" in changes:
            given = parse_proxy_url(changes["url"], None, None)
            url = given[0]
            if given[1] is not None or given[2] is not None:
                username, password = given[1], given[2]
        label = current.label
        if "label" in changes:
            label = check.text_for(table, "label", changes["label"])
        disabled = current.disabled
        if "disabled" in changes:
            if not isinstance(changes["disabled"], bool):
                raise InvalidRequest("disabled must be true or false", param="disabled")
            disabled = changes["disabled"]
        values = {
            "url": url,
            "username": username,
            "password": self._box.encrypt(password),
            "label": label,
            "disabled": disabled,
        }
        async with self._writing() as conn:
            result = await conn.execute(
                sa.update(table).where(table.c.id == proxy_id).values(**values)
            )
        if result.rowcount == 0:
            raise NotFound(f"proxy {proxy_id} does not exist")
        return ProxyRecord(proxy_id, url, username, password, label, disabled)

    async def remove_proxy(self, proxy_id: int) -> None:
        """Delete a proxy; credentials assigned to it lose the assignment (proxy_id cleared)."""
        async with self._writing() as conn:
            result = await conn.execute(sa.delete(table).where(table.c.id == proxy_id))
        if result.rowcount == 0:
            raise NotFound(f"proxy {proxy_id} does not exist")
