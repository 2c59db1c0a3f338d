"""The console's files: read once from the package, gzip-compressed once, served with an ETag.

Every file lives under ``static/`` inside the package, vendored libraries included
(``static/vendor``, see ``scripts/vendor_console.py``). Nothing is built and nothing comes
from elsewhere. Files are revalidated on every load (``no-cache`` + ``ETag``), so an upgraded
gateway never serves a browser last version's script.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"

_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
_COMPRESSIBLE = {".js", ".mjs", ".css", ".html", ".svg", ".json", ".txt"}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    media_type: str
    etag: str


def _load(path: Path) -> Asset:
    body = path.read_bytes()
    gzipped = gzip.compress(body, 9, mtime=0) if path.suffix in _COMPRESSIBLE else None
    if gzipped is not None and len(gzipped) >= len(body):
        gzipped = None
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Asset(body, gzipped, _TYPES[path.suffix], etag)


@cache
def asset(name: str) -> Asset | None:
    """The file ``name`` (a path under ``static/``), or ``None`` when there is no such file
    or the name tries to leave the folder or names a type the console does not serve."""
    if not name or "\\" in name or name.startswith("/"):
        return None
    parts = name.split("/")
    if any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        return None
    path = STATIC_DIR.joinpath(*parts)
    if path.suffix not in _TYPES or not path.is_file():
        return None
    return _load(path)
