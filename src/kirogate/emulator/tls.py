"""HTTPS for the emulator: a throwaway self-signed certificate, or the operator's own files.

The real upstream is HTTPS. To measure and test a gateway against a TLS upstream, the
emulator serves TLS with a certificate that the client trusts the way a user would: through
the system CA mechanism (``SSL_CERT_FILE=<cert.pem>``, which ``ssl.create_default_context``
and therefore aiohttp's default context honour), never by switching verification off.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

# The names the certificate answers for: the emulator listens on loopback by default.
DEFAULT_HOSTS = ("127.0.0.1", "localhost")
VALID_DAYS = 2  # throwaway: long enough for any benchmark, useless once leaked


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """A PEM certificate (chain) and its PEM private key."""

    cert: Path
    key: Path


def write_self_signed(directory: Path, hosts: tuple[str, ...] = DEFAULT_HOSTS) -> TlsFiles:
    """A fresh RSA-2048 key and a self-signed certificate for ``hosts`` in ``directory``.

    RSA-2048, like most public endpoints' certificates (AWS's included), so a handshake costs
    about what it would against the real upstream. The key file is created 0600.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kirogate emulator")])
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    files = TlsFiles(cert=directory / "emulator-cert.pem", key=directory / "emulator-key.pem")
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(files.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key_pem)
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return files


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """The server side of the emulator's TLS, HTTP/1.1 only (as the upstream negotiates)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.cert, files.key)
    context.set_alpn_protocols(["http/1.1"])
    return context
