"""The gateway's running state: settings, credentials and the upstream machinery.

:class:`Gateway` is built once per process by ``serve`` (or by tests) and handed to the
HTTP layer. It owns every long-lived resource (HTTP connection pools, the token manager)
and releases them in :meth:`Gateway.close`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from kirogate.settings import Settings
from kirogate.upstream.credentials import Credential

log = logging.getLogger(__name__)


class Gateway:
    """Everything a request handler needs, created at startup and closed at shutdown."""

    def __init__(self, settings: Settings, credentials: Sequence[Credential]) -> None:
        self.settings = settings
        self.credentials: list[Credential] = list(credentials)

    async def start(self) -> None:
        log.info("gateway starting with %d credential(s)", len(self.credentials))

    async def close(self) -> None:
        log.info("gateway stopped")

    def usable_credentials(self) -> list[Credential]:
        return [cred for cred in self.credentials if not cred.disabled]
