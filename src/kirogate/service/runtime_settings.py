"""Settings changed while the gateway runs: validated, stored, applied, shared.

:class:`RuntimeSettings` keeps the configured settings (defaults < file < env < flags) and the
operator's runtime values (the store's ``settings`` table, keys of
:data:`~kirogate.settings.runtime.RUNTIME`), lays the second over the first and hands the
result to the gateway's ``apply`` (which swaps ``gateway.settings`` and tells the components
that keep a copy). A change is validated whole by the kinds that read files and env vars,
stored in one transaction, applied here, then announced on the ``settings`` topic: every
other process reloads the stored values and applies them within a second.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from kirogate.convert.models import ModelTable
from kirogate.errors import ConfigError, InvalidRequest
from kirogate.settings import Settings
from kirogate.settings.runtime import (
    check_runtime_key,
    describe_kind,
    is_runtime,
    origin_of,
    parse_runtime,
    runtime_specs,
    shown_value,
    spec_json,
    value_of,
    with_runtime,
)

if TYPE_CHECKING:
    from kirogate.service.changes import ChangeFeed
    from kirogate.store import Store

log = logging.getLogger(__name__)

TOPIC = "settings"
READ_TIMEOUT = 5.0  # seconds `config show` waits for the store
_DEFAULTS = Settings()


class RuntimeSettings:
    """The runtime layer over one process's configured settings."""

    def __init__(
        self,
        configured: Settings,
        *,
        store: Callable[[], Store | None],
        changes: ChangeFeed,
        apply: Callable[[Settings], None],
    ) -> None:
        self.configured = configured
        self.current = configured
        self._values: dict[str, Any] = {}
        self._store = store
        self._changes = changes
        self._apply = apply

    @property
    def values(self) -> dict[str, Any]:
        """The runtime values in force (parsed), by key."""
        return dict(self._values)

    def listing(self) -> list[dict[str, Any]]:
        """Every runtime setting: value, origin, kind, description, group, what it overrides."""
        rows = []
        for runtime in runtime_specs():
            spec, key = runtime.spec, runtime.key
            configured = origin_of(self.configured, key)
            row: dict[str, Any] = {
                "key": key,
                "group": runtime.group,
                "description": runtime.description,
                "value": shown_value(spec, value_of(self.current, key)),
                "origin": "runtime" if key in self._values else configured.kind,
                "origin_detail": "" if key in self._values else configured.detail,
                "default": shown_value(spec, value_of(_DEFAULTS, key)),
                **describe_kind(spec.kind),
            }
            if key in self._values and configured.kind != "default":
                row["overrides"] = {
                    "value": shown_value(spec, value_of(self.configured, key)),
                    "origin": configured.kind,
                    "origin_detail": configured.detail,
                }
            rows.append(row)
        return rows

    async def change(self, body: Mapping[str, object]) -> list[str]:
        """Set (or, for ``None``, reset) every key of ``body``, all or none; the keys changed.

        Raises :class:`InvalidRequest` naming the first key that is unknown, not changeable
        at runtime, or given a value its kind refuses.
        """
        parsed: dict[str, Any] = {}
        resets: list[str] = []
        for key, raw in body.items():
            try:
                runtime = check_runtime_key(key)
            except ConfigError as exc:
                raise InvalidRequest(exc.message, param=key) from None
            if raw is None:
                resets.append(key)
                continue
            try:
                parsed[key] = parse_runtime(key, raw)
            except ValueError as exc:
                message = f"setting {key!r}: {exc} (allowed: {runtime.spec.kind.allowed})"
                raise InvalidRequest(message, param=key) from None
        values = {k: v for k, v in self._values.items() if k not in resets} | parsed
        try:
            settings = with_runtime(self.configured, values)
            ModelTable(rules=settings.models)  # the model rules must build
        except ConfigError as exc:
            raise InvalidRequest(exc.message, param=next(iter(body), None)) from None
        store = self._store()
        if store is not None:
            specs = {key: check_runtime_key(key).spec for key in parsed}
            sets = {key: spec_json(specs[key], value) for key, value in parsed.items()}
            secret = frozenset(key for key, spec in specs.items() if spec.secret)
            await store.change_settings(sets, tuple(resets), secret=secret)
        self._take(values, settings)
        log.info("runtime settings changed: %s", ", ".join(body) or "(none)")
        await self._changes.changed(TOPIC)
        return list(body)

    async def reset(self, key: str) -> None:
        """Return ``key`` to its configured value (also when it had no runtime value)."""
        await self.change({key: None})

    async def load(self) -> None:
        """Read the stored runtime values and apply them (at start, and on the topic).

        A stored value this build cannot read (an older or newer kind) is skipped with a
        warning: the configured value stays in force for it.
        """
        store = self._store()
        if store is None:
            return
        stored = await store.all_settings()
        values: dict[str, Any] = {}
        for key, raw in stored.items():
            if not is_runtime(key):
                continue
            try:
                values[key] = parse_runtime(key, raw)
            except ValueError as exc:
                log.warning("stored runtime setting %s is ignored: %s", key, exc)
        if values == self._values:
            return
        try:
            settings = with_runtime(self.configured, values)
            ModelTable(rules=settings.models)
        except ConfigError as exc:
            log.warning("stored runtime settings are ignored: %s", exc.message)
            return
        self._take(values, settings)
        log.info("runtime settings loaded: %s", ", ".join(sorted(values)) or "(none)")

    def _take(self, values: dict[str, Any], settings: Settings) -> None:
        self._values = values
        self.current = settings
        self._apply(settings)


async def stored_runtime_values(settings: Settings) -> dict[str, Any]:
    """The runtime values stored for ``settings``' store (``config show``), parsed; empty
    when there is no store yet or it cannot be read (the command still shows the rest)."""
    from kirogate.errors import KirogateError
    from kirogate.store import Store

    if not settings.database_url and not (settings.data_path / "kirogate.db").is_file():
        return {}
    try:
        async with asyncio.timeout(READ_TIMEOUT):
            store = await Store.open(
                database_url=settings.database_url,
                data_dir=settings.data_path,
                secret_key=settings.secret_key,
            )
            try:
                stored = await store.all_settings()
            finally:
                await store.close()
    except (KirogateError, OSError, TimeoutError) as exc:
        log.warning("runtime settings not read: %s", exc)
        return {}
    values: dict[str, Any] = {}
    for key, raw in stored.items():
        if is_runtime(key):
            try:
                values[key] = parse_runtime(key, raw)
            except ValueError:
                continue
    return values
