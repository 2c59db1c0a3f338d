"""Make client images fit what the upstream takes (spec §3.4).

Kiro takes ``jpeg``, ``png``, ``gif`` and ``webp`` as base64. We apply Anthropic's own limits
so a request Anthropic would take does not fail upstream: at most ``max_bytes`` decoded per
image, and at most ``max_side`` pixels on the longest side (the caller passes the tighter
multi-image bound when a request carries several images). An image over a limit is
downscaled with Pillow and re-encoded in its own format; an animated GIF keeps its first
frame. Data whose real format differs from the declared media type is sent with the real
format; data Pillow cannot read is an :class:`~kirogate.errors.InvalidRequest`.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kirogate.convert.ir import Image
from kirogate.errors import InvalidRequest
from kirogate.protocol.request import KiroImage

if TYPE_CHECKING:
    from PIL import Image as PILImage

KIRO_FORMATS = {"JPEG": "jpeg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGE_SIDE = 8000
MAX_IMAGE_SIDE_MULTI = 2000
_SHRINK_ATTEMPTS = 6


@dataclass(frozen=True, slots=True)
class FittedImage:
    image: KiroImage
    resized: bool


def kiro_format(media_type: str) -> str:
    """``image/png`` -> ``png`` (the wire's ``format``)."""
    return media_type.removeprefix("image/").replace("jpg", "jpeg")


def fit_image(
    image: Image, *, param: str, max_bytes: int = MAX_IMAGE_BYTES, max_side: int = MAX_IMAGE_SIDE
) -> FittedImage:
    """``image`` as a KiroImage within the limits; ``param`` names it in errors."""
    # Pillow is imported on the first image, not at start: it costs ~2.5 MiB resident.
    from PIL import Image as PILImage

    try:
        raw = base64.b64decode(image.data, validate=True)
    except ValueError:  # binascii.Error, or a non-ASCII character
        raise InvalidRequest(f"{param}: image data is not valid base64", param=param) from None
    try:
        with PILImage.open(io.BytesIO(raw)) as picture:
            detected = picture.format or ""
            width, height = picture.size
            fmt = KIRO_FORMATS.get(detected)
            if fmt is not None and len(raw) <= max_bytes and max(width, height) <= max_side:
                return FittedImage(KiroImage(fmt, image.data), resized=False)
            data = _shrink(picture, fmt or "png", max_bytes=max_bytes, max_side=max_side)
    except (OSError, ValueError, PILImage.DecompressionBombError) as exc:
        # Pillow's own text names its classes and memory addresses: never the client's.
        raise InvalidRequest(f"{param}: image {_problem(exc)}", param=param) from None
    if data is None:
        raise InvalidRequest(
            f"{param}: image cannot be brought under {max_bytes} bytes", param=param
        )
    return FittedImage(KiroImage(fmt or "png", base64.b64encode(data).decode("ascii")), True)


def _problem(exc: Exception) -> str:
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        return "could not be decoded (not a PNG, JPEG, GIF or WebP image)"
    if isinstance(exc, PILImage.DecompressionBombError):
        return "is unusable (too many pixels to decode)"
    return "is unusable (damaged or truncated)"


def _shrink(picture: PILImage.Image, fmt: str, *, max_bytes: int, max_side: int) -> bytes | None:
    """Re-encoded bytes no larger than ``max_bytes`` with no side over ``max_side``, or None."""
    from PIL import Image as PILImage

    picture.seek(0)
    frame = picture.convert("RGBA" if _has_alpha(picture) and fmt != "jpeg" else "RGB")
    scale = min(1.0, max_side / max(frame.size))
    for _ in range(_SHRINK_ATTEMPTS):
        size = (max(1, int(frame.width * scale)), max(1, int(frame.height * scale)))
        resized = frame if size == frame.size else frame.resize(size, PILImage.Resampling.LANCZOS)
        buffer = io.BytesIO()
        options = {"quality": 85} if fmt in ("jpeg", "webp") else {"optimize": True}
        resized.save(buffer, format=fmt.upper(), **options)
        data = buffer.getvalue()
        if len(data) <= max_bytes:
            return data
        # Bytes grow roughly with area; aim a little under the limit.
        scale *= math.sqrt(max_bytes / len(data)) * 0.9
    return None


def _has_alpha(picture: PILImage.Image) -> bool:
    return picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info
