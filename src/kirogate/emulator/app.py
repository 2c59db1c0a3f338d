"""Build, start and run the emulator: one aiohttp application serving every upstream path."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from aiohttp import web

from kirogate.emulator import auth_routes, data_plane, inspect, oidc_routes
from kirogate.emulator.config import EmulatorConfig
from kirogate.emulator.responses import STATE_KEY
from kirogate.emulator.state import EmulatorState
from kirogate.emulator.tls import server_context

log = logging.getLogger(__name__)


def create_app(config: EmulatorConfig, state: EmulatorState | None = None) -> web.Application:
    # Bodies past max_body_bytes must reach the handler to get upstream's own 400, not a 413.
    app = web.Application(
        middlewares=[inspect.record_requests],
        client_max_size=max(config.max_body_bytes * 4, 8 << 20),
    )
    app[STATE_KEY] = state or EmulatorState(config)
    data_plane.add_routes(app)
    auth_routes.add_routes(app)
    oidc_routes.add_routes(app)
    inspect.add_routes(app)
    return app


@dataclass(slots=True)
class RunningEmulator:
    """An emulator serving in the current event loop (tests, the demo, benchmarks)."""

    url: str
    state: EmulatorState
    runner: web.AppRunner

    async def close(self) -> None:
        await self.runner.cleanup()

    async def __aenter__(self) -> RunningEmulator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def start_emulator(config: EmulatorConfig) -> RunningEmulator:
    """Listen on ``config.host:config.port`` (port 0 picks a free one; HTTPS with
    ``config.tls``) and return at once."""
    app = create_app(config)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    ssl_context = None if config.tls is None else server_context(config.tls)
    site = web.TCPSite(runner, config.host, config.port, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1] if runner.addresses else config.port
    state = app[STATE_KEY]
    state.config = replace(config, port=port)
    url = f"{config.scheme}://{config.host}:{port}"
    return RunningEmulator(url=url, state=state, runner=runner)


def run_emulator(config: EmulatorConfig) -> None:
    """Serve until interrupted (``kirogate emulator``)."""
    web.run_app(
        create_app(config),
        host=config.host,
        port=config.port,
        ssl_context=None if config.tls is None else server_context(config.tls),
        access_log=log,
        print=None,
        shutdown_timeout=0.5,
    )
