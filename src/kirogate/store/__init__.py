"""Persistence: credentials, pool state, client API keys, settings, request logs, blocked IPs
and proxies, on SQLite (one process) or PostgreSQL (several). See docs/storage.md."""

from kirogate.store.access import ApiKeyRecord
from kirogate.store.proxies import ProxyRecord
from kirogate.store.requestlog import RequestLogEntry
from kirogate.store.store import Store
from kirogate.store.sync import SyncReport

__all__ = [
    "ApiKeyRecord",
    "ProxyRecord",
    "RequestLogEntry",
    "Store",
    "SyncReport",
]
