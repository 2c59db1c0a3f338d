"""The credentials admin API under ``/api/admin`` (the kiro.rs admin API, see docs/admin-api.md).

Split by noun: :mod:`~kirogate.admin.credentials` and :mod:`~kirogate.admin.pool` hold the
routes, each over the service's operations; :mod:`~kirogate.admin.auth` checks the admin key
(off, answering 404, while none is configured) and renders failures in the admin dialect
of :mod:`kirogate.api.errors`. Bodies and answers follow kiro.rs so its admin UI and scripts work unchanged:
success is ``{"success": true, "message": ...}``, errors are
``{"error": {"type": ..., "message": ...}}`` (never FastAPI's 422). No token, key or password
is ever returned whole.
"""

from __future__ import annotations

from fastapi import APIRouter

from kirogate.admin import (
    addresses,
    alerts,
    audit,
    backup,
    credential_batch,
    credentials,
    groups,
    jobs,
    keys,
    logins,
    logs,
    models,
    pool,
    proxies,
    settings,
)
from kirogate.admin.auth import AUTH_MESSAGE, OFF_MESSAGE, PREFIX, AdminRoute, require_admin

router = APIRouter(prefix=PREFIX, route_class=AdminRoute)
for _nouns in (
    credentials.router,
    pool.router,
    credential_batch.router,
    jobs.router,
    groups.router,
    logins.router,
    audit.router,
    alerts.router,
    backup.router,
    settings.router,
    models.router,
    addresses.router,
    proxies.router,
    keys.router,
    logs.router,
):
    router.include_router(_nouns)

__all__ = [
    "AUTH_MESSAGE",
    "OFF_MESSAGE",
    "PREFIX",
    "AdminRoute",
    "require_admin",
    "router",
]
