"""The emulator over HTTPS: trusted through a CA file it answers; untrusted it is refused."""

from __future__ import annotations

import os
import ssl
import stat
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from kirogate.emulator.app import start_emulator
from kirogate.emulator.config import EmulatorConfig
from kirogate.emulator.tls import write_self_signed


async def test_a_client_trusting_the_certificate_gets_an_answer(tmp_path: Path) -> None:
    files = write_self_signed(tmp_path)
    trusted = ssl.create_default_context(cafile=str(files.cert))
    async with await start_emulator(EmulatorConfig(port=0, tls=files)) as emulator:
        assert emulator.url.startswith("https://127.0.0.1:")
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{emulator.url}/_emulator/stats", ssl=trusted) as response,
        ):
            assert response.status == 200


async def test_a_client_not_trusting_the_certificate_is_refused(tmp_path: Path) -> None:
    files = write_self_signed(tmp_path)
    async with (
        await start_emulator(EmulatorConfig(port=0, tls=files)) as emulator,
        aiohttp.ClientSession() as session,
    ):
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.get(f"{emulator.url}/_emulator/stats")


def test_the_key_is_private_and_the_certificate_names_loopback(tmp_path: Path) -> None:
    from cryptography import x509

    files = write_self_signed(tmp_path)
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]


def test_ssl_cert_file_makes_the_default_context_trust_it(tmp_path: Path) -> None:
    # How the gateway is told to trust it: the system CA mechanism, as a user would.
    files = write_self_signed(tmp_path)
    probe = "import ssl; print(len(ssl.create_default_context().get_ca_certs()))"
    env = os.environ | {"SSL_CERT_FILE": str(files.cert)}
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "1"


def test_the_command_wants_the_certificate_and_its_key_together(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from kirogate.cli import main

    assert main(["emulator", "--tls-cert", "cert.pem"]) == 2
    assert "--tls-cert and --tls-key go together" in capsys.readouterr().err
