"""SOCKS support loads on first use; its errors still count as connection errors then."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_aiohttp_socks_loads_with_the_first_socks_session_only() -> None:
    code = """
        import asyncio, sys
        from kirogate.settings import UpstreamSettings
        from kirogate.upstream.http import HttpPool, connection_errors, parse_proxy

        async def main():
            pool = HttpPool(UpstreamSettings())
            pool.session_for(None)
            before = "aiohttp_socks" in sys.modules, len(connection_errors())
            await pool._new_session(parse_proxy("socks5h://127.0.0.1:1080")).close()
            import aiohttp_socks
            assert aiohttp_socks.ProxyConnectionError in connection_errors()
            await pool.close()
            return before, "aiohttp_socks" in sys.modules

        print(asyncio.run(main()))
    """
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    # upstream/client.py still imports aiohttp_socks at the top; this checks http.py alone.
    assert proc.stdout.strip() == "((False, 2), True)"
