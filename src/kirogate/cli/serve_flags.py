"""The ``serve`` command's flags and the daemon child's command line.

Shared by ``serve`` (:mod:`kirogate.cli.server`) and ``restart`` (:mod:`kirogate.cli.control`),
which restarts the daemon with them; kept apart so neither imports the other.
"""

from __future__ import annotations

# argparse dest -> setting key
SERVE_FLAGS = {
    "host": "server.host",
    "port": "server.port",
    "api_keys": "server.api_keys",
    "admin_key": "server.admin_key",
    "admin": "server.admin",
    "kiro_file": "kiro_files",
    "kiro_cli_db": "kiro_cli_dbs",
    "credentials": "credentials_files",
    "log_level": "log_level",
    "log_format": "log_format",
    "log_file": "log_file",
    "upstream_url": "upstream.url",
    "database_url": "database_url",
    "redis_url": "redis_url",
    "workers": "workers",
    "first_token_timeout": "upstream.first_token_timeout",
    "stream_idle_timeout": "upstream.stream_idle_timeout",
    "pool_mode": "pool.mode",
    "cache_estimate": "cache.estimate",
    "max_body_size": "server.max_body_size",
    "shutdown_grace": "server.shutdown_grace",
}
DAEMON_CHILD = "--daemon-child"


def child_argv(argv: list[str]) -> list[str]:
    """The serve command line for the daemon itself: no ``-d``, plus the hidden child flag."""
    return [item for item in argv if item not in ("-d", "--daemon", DAEMON_CHILD)]
