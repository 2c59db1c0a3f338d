import base64
import io

import pytest
from PIL import Image as PILImage

from kirogate.convert.images import fit_image, kiro_format
from kirogate.convert.ir import Image
from kirogate.errors import InvalidRequest


def encoded(
    fmt: str = "PNG", size: tuple[int, int] = (4, 3), mode: str = "RGB", **save: object
) -> str:
    buffer = io.BytesIO()
    PILImage.new(mode, size, "red" if mode != "P" else 1).save(buffer, format=fmt, **save)
    return base64.b64encode(buffer.getvalue()).decode()


def decoded(data: str) -> PILImage.Image:
    return PILImage.open(io.BytesIO(base64.b64decode(data)))


def test_kiro_format_is_the_media_subtype() -> None:
    assert [kiro_format(m) for m in ("image/png", "image/jpeg", "image/jpg", "image/webp")] == [
        "png",
        "jpeg",
        "jpeg",
        "webp",
    ]


def test_image_within_limits_passes_through_unchanged() -> None:
    data = encoded()
    fitted = fit_image(Image("image/png", data), param="p")
    assert (fitted.image.format, fitted.image.data, fitted.resized) == ("png", data, False)


def test_real_format_wins_over_the_declared_media_type() -> None:
    data = encoded("JPEG")
    assert fit_image(Image("image/png", data), param="p").image.format == "jpeg"


@pytest.mark.parametrize(
    ("fmt", "kiro"), [("PNG", "png"), ("JPEG", "jpeg"), ("WEBP", "webp"), ("GIF", "gif")]
)
def test_oversized_image_is_downscaled_in_its_own_format(fmt: str, kiro: str) -> None:
    data = encoded(fmt, (300, 120))
    fitted = fit_image(Image(f"image/{kiro}", data), param="p", max_side=100)
    picture = decoded(fitted.image.data)
    assert fitted.resized
    assert (fitted.image.format, picture.format, picture.size) == (kiro, fmt, (100, 40))


def test_image_over_the_byte_limit_is_reencoded_under_it() -> None:
    noise = PILImage.effect_noise((400, 400), 100).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, format="PNG")
    raw = buffer.getvalue()
    limit = len(raw) // 3
    fitted = fit_image(
        Image("image/png", base64.b64encode(raw).decode()), param="p", max_bytes=limit
    )
    assert fitted.resized
    assert len(base64.b64decode(fitted.image.data)) <= limit


def test_image_that_cannot_shrink_enough_is_rejected() -> None:
    with pytest.raises(InvalidRequest) as caught:
        fit_image(
            Image("image/png", encoded(size=(50, 50))), param="messages[0].content", max_bytes=5
        )
    assert caught.value.param == "messages[0].content"


def test_undecodable_image_is_rejected_naming_the_field() -> None:
    data = base64.b64encode(b"definitely not an image").decode()
    with pytest.raises(InvalidRequest) as caught:
        fit_image(Image("image/png", data), param="messages[3].content")
    assert caught.value.param == "messages[3].content"
    assert "could not be decoded" in caught.value.message


def test_truncated_image_data_is_rejected_when_it_must_be_resized() -> None:
    raw = base64.b64decode(encoded(size=(300, 300)))
    data = base64.b64encode(raw[: len(raw) // 2]).decode()
    with pytest.raises(InvalidRequest):
        fit_image(Image("image/png", data), param="p", max_side=10)


def test_image_errors_carry_no_library_text() -> None:
    # Found by tests/convert/test_generated_requests.py: Pillow's message, with a memory
    # address ("cannot identify image file <_io.BytesIO object at 0x...>"), reached clients.
    data = base64.b64encode(b"definitely not an image").decode()
    with pytest.raises(InvalidRequest) as caught:
        fit_image(Image("image/png", data), param="p")
    assert caught.value.message == (
        "p: image could not be decoded (not a PNG, JPEG, GIF or WebP image)"
    )


def test_truncated_image_that_must_be_resized_is_named_damaged() -> None:
    raw = base64.b64decode(encoded(size=(300, 300)))
    data = base64.b64encode(raw[: len(raw) // 2]).decode()
    with pytest.raises(InvalidRequest) as caught:
        fit_image(Image("image/png", data), param="p", max_side=10)
    assert caught.value.message == "p: image is unusable (damaged or truncated)"


def test_image_with_too_many_pixels_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image as PILImage

    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 10)  # Pillow refuses over twice this
    with pytest.raises(InvalidRequest) as caught:
        fit_image(Image("image/png", encoded(size=(50, 50))), param="p")
    assert caught.value.message == "p: image is unusable (too many pixels to decode)"


def test_invalid_base64_is_rejected() -> None:
    with pytest.raises(InvalidRequest) as caught:
        fit_image(Image("image/png", "%%%"), param="p")
    assert "base64" in caught.value.message


def test_unsupported_real_format_is_reencoded_as_png() -> None:
    fitted = fit_image(Image("image/png", encoded("BMP")), param="p")
    assert (fitted.image.format, decoded(fitted.image.data).format) == ("png", "PNG")


def test_transparent_png_keeps_its_alpha_when_downscaled() -> None:
    data = encoded("PNG", (200, 200), mode="RGBA")
    picture = decoded(fit_image(Image("image/png", data), param="p", max_side=50).image.data)
    assert picture.mode == "RGBA"


def test_transparent_webp_is_downscaled() -> None:
    rgba = PILImage.new("RGBA", (200, 200), (255, 0, 0, 128))
    buffer = io.BytesIO()
    rgba.save(buffer, format="WEBP")
    fitted = fit_image(
        Image("image/webp", base64.b64encode(buffer.getvalue()).decode()), param="p", max_side=50
    )
    assert decoded(fitted.image.data).size == (50, 50)


def test_animated_gif_keeps_its_first_frame() -> None:
    frames = [PILImage.new("RGB", (200, 100), color) for color in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    data = base64.b64encode(buffer.getvalue()).decode()
    picture = decoded(fit_image(Image("image/gif", data), param="p", max_side=50).image.data)
    assert (picture.format, picture.size, getattr(picture, "n_frames", 1)) == ("GIF", (50, 25), 1)
