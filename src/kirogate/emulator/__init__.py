"""A faithful fake of the Kiro upstream (data plane, auth, OIDC, usage), for tests and demos.

Entry points: :class:`~kirogate.emulator.config.EmulatorConfig` (with
:class:`~kirogate.emulator.config.Pacing`), :func:`~kirogate.emulator.app.create_app`,
:func:`~kirogate.emulator.app.start_emulator` (tests; port 0 picks a free port) and
:func:`~kirogate.emulator.app.run_emulator` (``kirogate emulator``).

Every upstream path is served on one base URL: ``/generateAssistantResponse`` (and ``POST /``
with ``X-Amz-Target``), ``/mcp``, ``/getUsageLimits``, ``/ListAvailableModels``,
``/listAvailableProfiles``, ``/refreshToken``, ``/login``, ``/oauth/token``,
``/client/register``, ``/device_authorization``, ``/token`` and ``/device`` (the
verification page; opening it approves the code). Test hooks live under ``/_emulator/``
(:mod:`kirogate.emulator.inspect`) and as methods of
:class:`~kirogate.emulator.state.EmulatorState`.

Behaviour is scripted by scenarios (:mod:`kirogate.emulator.scenarios`), chosen per
credential or with a ``[[emu:NAME key=value]]`` marker in the user's message; the default
reply is ``"Echo: <content>"`` (formulas in :mod:`kirogate.emulator.answers`).
"""
