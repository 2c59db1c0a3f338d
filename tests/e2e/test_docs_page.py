"""``/docs`` rendered by a real browser (Debian's Chromium), offline, against a live gateway."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.live import live_stack

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
def test_swagger_ui_renders_the_gateways_openapi(tmp_path: Path) -> None:
    with live_stack(tmp_path) as stack:
        dom = subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={tmp_path / 'chromium'}",
                # Only the gateway answers: anything else (a CDN) fails to load.
                "--proxy-server=http://127.0.0.1:9",
                "--proxy-bypass-list=127.0.0.1",
                "--virtual-time-budget=8000",
                "--dump-dom",
                f"{stack.base_url}/docs",
            ],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        ).stdout
    assert "Unable to render" not in dom
    assert "/v1/chat/completions" in dom
    assert "/v1/messages" in dom
