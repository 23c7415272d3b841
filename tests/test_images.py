"""Safe image decoding: odd but valid modes convert correctly, broken files give clear errors."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from fer_core.data import read_image, resize, to_grey, to_rgb
from fer_core.errors import ImageReadError


def _png(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=kw.pop("format", "PNG"), **kw)
    return buf.getvalue()


@pytest.fixture
def gradient() -> np.ndarray:
    """A 20x30 horizontal ramp: asymmetric, so rotations are detectable."""
    return np.tile(np.linspace(0, 250, 30).astype(np.uint8), (20, 1))


def test_grey_and_rgb_outputs(gradient):
    data = _png(Image.fromarray(gradient))
    grey = read_image(data)
    assert grey.dtype == np.uint8 and grey.shape == (20, 30)
    np.testing.assert_array_equal(grey, gradient)
    rgb = read_image(data, color="rgb")
    assert rgb.shape == (20, 30, 3)
    np.testing.assert_array_equal(rgb[..., 1], gradient)


def test_16bit_png_is_scaled_to_8bit(gradient):
    wide = gradient.astype(np.uint16) * 257  # full 16-bit range
    im = Image.fromarray(wide)
    assert im.mode.startswith("I;16")
    out = read_image(_png(im))
    assert out.dtype == np.uint8
    np.testing.assert_allclose(out.astype(int), gradient.astype(int), atol=1)


def test_cmyk_jpeg_converts_to_rgb():
    im = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    out = read_image(_png(im, format="JPEG", quality=95), color="rgb")
    assert out.shape == (16, 16, 3)
    r, g, b = out[8, 8].astype(int)
    assert r > 200 and g < 60 and b < 60


def test_palette_image():
    im = Image.new("P", (10, 10))
    im.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    im.paste(1, (0, 0, 5, 10))  # left half white
    out = read_image(_png(im))
    assert out[:, :5].min() == 255 and out[:, 5:].max() == 0


def test_rgba_is_composited_on_white():
    arr = np.zeros((8, 8, 4), np.uint8)
    arr[..., 0] = 255
    arr[:, :4, 3] = 255  # left opaque red, right fully transparent
    out = read_image(_png(Image.fromarray(arr, "RGBA")), color="rgb")
    assert tuple(out[0, 0]) == (255, 0, 0)
    assert tuple(out[0, 7]) == (255, 255, 255)


def test_exif_rotation_is_applied(gradient):
    im = Image.fromarray(gradient)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display
    data = _png(im, format="JPEG", exif=exif.tobytes(), quality=100)
    out = read_image(data)
    assert out.shape == (30, 20)  # width and height swapped
    # After a 90-degree clockwise turn, the ramp runs top (dark) to bottom (bright).
    assert out[0].mean() < out[-1].mean() - 100


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"", "empty file"),
        (b"this is not an image at all", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "truncated or corrupt"),
    ],
)
def test_broken_bytes_raise_clear_errors(payload, reason, tmp_path):
    path = tmp_path / "face.jpg"
    path.write_bytes(payload)
    with pytest.raises(ImageReadError) as err:
        read_image(path)
    assert reason in str(err.value) and "face.jpg" in str(err.value)


def test_truncated_jpeg(gradient, tmp_path):
    data = _png(Image.fromarray(gradient), format="JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="cut.jpg: truncated or corrupt"):
        read_image(path)


def test_decompression_bomb_is_refused_before_decoding():
    data = _png(Image.new("L", (5000, 5000)))
    with pytest.raises(ImageReadError, match="decompression bomb"):
        read_image(data, max_pixels=1_000_000)


def test_pixel_limit_leaves_pils_global_limit_alone():
    """Sessions run in threads: decoding (bombs included) must never switch PIL's process-wide check off."""
    import threading

    original = Image.MAX_IMAGE_PIXELS
    bomb, small = _png(Image.new("L", (3000, 3000))), _png(Image.new("L", (8, 8)))
    seen: set = set()
    stop = threading.Event()

    def decode():
        while not stop.is_set():
            for data in (bomb, small):
                try:
                    read_image(data, max_pixels=1_000_000)
                except ImageReadError:
                    pass

    workers = [threading.Thread(target=decode) for _ in range(4)]
    for w in workers:
        w.start()
    for _ in range(20_000):
        seen.add(Image.MAX_IMAGE_PIXELS)
    stop.set()
    for w in workers:
        w.join()
    assert seen == {original}


def test_beyond_pils_own_bound_is_our_error():
    """Above PIL's hard bound Image.open itself refuses; that becomes the same clear error."""
    data = _png(Image.new("1", (15000, 15000)))  # 225 MP, over PIL's 2 x 89 MP bound, tiny as 1-bit PNG
    with pytest.raises(ImageReadError, match="decompression bomb"):
        read_image(data, max_pixels=10**9)


def test_missing_file(tmp_path):
    with pytest.raises(ImageReadError, match="cannot read file"):
        read_image(tmp_path / "nope.png")


def test_colour_conversions_and_resize():
    rgb = np.zeros((2, 4, 4, 3), np.uint8)
    rgb[..., 0] = 100
    grey = to_grey(rgb)
    assert grey.shape == (2, 4, 4) and int(grey[0, 0, 0]) == round(0.299 * 100)
    assert to_rgb(grey).shape == (2, 4, 4, 3)
    assert to_rgb(rgb) is rgb
    assert resize(np.zeros((48, 48), np.uint8), 96).shape == (96, 96)
    assert resize(np.zeros((100, 80, 3), np.uint8), (32, 40)).shape == (32, 40, 3)
