"""Encryption of secret columns at rest (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from ``KIROGATE_SECRET_KEY`` (a Fernet key, or any passphrase, which is
stretched with scrypt) or from ``<data_dir>/secret.key``, created with mode 0600 on first use.
A value encrypted with another key fails to decrypt with :class:`ConfigError`, never a traceback.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from kirogate.errors import ConfigError

log = logging.getLogger(__name__)

KEY_FILE_NAME = "secret.key"
KEY_FILE_MODE = 0o600
# A fixed, application-wide salt: the passphrase must derive the same key in every process and
# on every host sharing one database, and there is nowhere to keep a random salt before the
# key is known. scrypt's cost still makes guessing a weak passphrase expensive.
_KDF_SALT = b"kirogate/secret-key/v1"
_KDF_N, _KDF_R, _KDF_P = 2**15, 8, 1
_KEY_FILE_WAIT = 5.0  # seconds to wait for another process to finish writing a new key file


@dataclass(frozen=True, slots=True)
class KeySource:
    """The key and, for messages, where it came from (the variable or the key file)."""

    fernet: Fernet
    origin: str


def _is_fernet_key(text: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(text.encode("ascii"))) == 32
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return False


def derive_key(passphrase: str) -> bytes:
    """The Fernet key for ``passphrase``; a string that already is a Fernet key is used as is."""
    if _is_fernet_key(passphrase):
        return passphrase.encode("ascii")
    kdf = Scrypt(salt=_KDF_SALT, length=32, n=_KDF_N, r=_KDF_R, p=_KDF_P)
    return base64.urlsafe_b64encode(kdf.derive(passphrase.encode("utf-8")))


def _read_key_file(path: Path) -> str:
    deadline = time.monotonic() + _KEY_FILE_WAIT
    while True:
        try:
            text = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the secret key file {path}: {exc}") from exc
        # An empty file is another process between creating and writing it.
        if text or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if not _is_fernet_key(text):
        raise ConfigError(
            f"{path} does not hold a valid key (44 base64 characters expected); restore it "
            "from your backup, or set KIROGATE_SECRET_KEY to the key the database was written with"
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s was readable by others (mode %o); setting it to 0600", path, mode)
        path.chmod(KEY_FILE_MODE)
    return text


def _create_key_file(path: Path) -> str | None:
    """Write a new key with mode 0600; ``None`` when another process created the file first."""
    key = Fernet.generate_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
    except FileExistsError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot create the secret key file {path}: {exc}") from exc
    try:
        os.write(fd, key + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    log.warning(
        "created a new secret key in %s; back it up: the stored credentials cannot be "
        "decrypted without it",
        path,
    )
    return key.decode("ascii")


def load_key(secret_key: str | None, data_dir: Path) -> KeySource:
    """The key from ``secret_key`` (env), else from ``<data_dir>/secret.key`` (created if absent).

    Blocking (scrypt, file I/O): call it in a thread.
    """
    if secret_key and secret_key.strip():
        return KeySource(Fernet(derive_key(secret_key.strip())), "KIROGATE_SECRET_KEY")
    path = data_dir / KEY_FILE_NAME
    text = _read_key_file(path) if path.exists() else _create_key_file(path)
    if text is None:
        text = _read_key_file(path)
    return KeySource(Fernet(text.encode("ascii")), f"the key file {path}")


def is_plaintext_url(value: str) -> bool:
    """A URL (or ``direct``) written before URL columns were encrypted."""
    return "://" in value or value.strip().lower() == "direct"


class SecretBox:
    """Encrypts and decrypts the secret columns with one key."""

    def __init__(self, key: KeySource) -> None:
        self._fernet = key.fernet
        self.origin = key.origin

    def encrypt(self, value: str | None) -> str | None:
        if value is None:
            return None
        return self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str | None) -> str | None:
        if token is None:
            return None
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise self.wrong_key() from exc

    def decrypt_url(self, value: str | None) -> str | None:
        """A URL column: decrypted, or as is when written in plaintext by an older version.

        A Fernet token is base64url and never holds ``://``; a stored URL always does
        (``direct`` is the one word a proxy column may also hold).
        """
        if value is None or is_plaintext_url(value):
            return value
        return self.decrypt(value)

    def wrong_key(self) -> ConfigError:
        return ConfigError(
            "cannot decrypt stored secrets: the secret key differs from the one they were "
            f"written with (the key in use comes from {self.origin}); set "
            "KIROGATE_SECRET_KEY to the original key or restore the original secret.key "
            "from your backup"
        )
