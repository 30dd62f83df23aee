"""Property-based: decode -> colourise never raises anything but ImageError, and every image that
decodes comes out at its own size. Random bytes, damaged files, and valid images of random mode,
size and format, from disk, as PIL images and as arrays.

The examples are the same on every run (derandomised), so a red test suite means a change broke
something, not that a new draw found an old bug; `ARTCOLOR_FUZZ=explore` draws fresh examples, and
more of them, to look for new ones.
"""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from artcolor import Colorizer, ImageError

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

EXPLORE = os.environ.get("ARTCOLOR_FUZZ") == "explore"
SETTINGS = settings(max_examples=300 if EXPLORE else 60, derandomize=not EXPLORE, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
MAX_PIXELS = 2**20  # a damaged header may claim any size; this keeps a fuzzed decode small

# the formats Pillow writes, with the modes each can hold
FORMATS = {
    "PNG": ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"],
    "JPEG": ["L", "RGB", "CMYK"],
    "WEBP": ["RGB", "RGBA"],
    "BMP": ["1", "L", "P", "RGB"],
    "TIFF": ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I", "F", "I;16"],
    "GIF": ["L", "P"],
}
MODES = ["1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "I", "F",
         "I;16", "I;16B"]


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer.from_preset("tiny", max_pixels=MAX_PIXELS)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


sizes = st.tuples(st.integers(1, 48), st.integers(1, 48)) | st.tuples(st.integers(1, 3), st.integers(100, 400))


@st.composite
def images(draw, modes=MODES) -> Image.Image:
    """A random image: random pixels in a random mode, possibly transposed to a tall one."""
    width, height = draw(sizes)
    if draw(st.booleans()):
        width, height = height, width
    seed = draw(st.integers(0, 2**32 - 1))
    smooth = draw(st.booleans())  # smooth images compress, so damaged ones decode partway
    rgba = np.random.default_rng(seed).integers(0, 256, (height, width, 4), dtype=np.uint8)
    im = Image.fromarray(rgba, "RGBA")
    if smooth:
        im = im.resize((2, 2)).resize((width, height), Image.BILINEAR)
    mode = draw(st.sampled_from(modes))
    if mode in ("I;16", "I;16B"):
        return Image.fromarray((np.asarray(im.convert("L")).astype(np.uint16) * 257)).convert(mode)
    return im.convert(mode)


@st.composite
def encoded(draw) -> tuple[bytes, str, tuple[int, int]]:
    """A valid image file: (its bytes, its suffix, its size)."""
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    im = draw(images(FORMATS[fmt]))
    buffer = io.BytesIO()
    im.save(buffer, format=fmt)
    return buffer.getvalue(), "." + fmt.lower(), im.size


@st.composite
def damaged(draw) -> tuple[bytes, str]:
    """A valid file, truncated, with bytes flipped, or with bytes inserted."""
    data, suffix, _ = draw(encoded())
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "truncate":
            del data[at:]
        elif kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data), suffix


def colorize_or_image_error(colorizer, src, path_in_message=None):
    """Colourise, or accept an ImageError (which names the file); anything else fails the test."""
    try:
        out = colorizer.colorize(src)
    except ImageError as e:
        if path_in_message is not None:
            assert str(path_in_message) in str(e)
        return None
    assert out.mode in ("RGB", "RGBA") and min(out.size) >= 1
    return out


@SETTINGS
@given(data=st.binary(max_size=512), suffix=st.sampled_from([".jpg", ".png", ".gif", ".webp", ".tif", ".bmp", ".x"]))
def test_random_bytes_are_an_image_error_or_an_image(colorizer, folder, data, suffix):
    path = folder / f"random{suffix}"
    path.write_bytes(data)
    colorize_or_image_error(colorizer, path, path)
    colorize_or_image_error(colorizer, Image.new("L", (8, 8)).copy(), None)  # still serving after it


@SETTINGS
@given(file=damaged())
def test_damaged_files_are_an_image_error_or_an_image(colorizer, folder, file):
    data, suffix = file
    path = folder / f"damaged{suffix}"
    path.write_bytes(data)
    colorize_or_image_error(colorizer, path, path)
    # as a reference too
    try:
        colorizer.encode_style(path)
    except ImageError as e:
        assert str(path) in str(e)


@SETTINGS
@given(file=encoded())
def test_valid_files_of_any_format_mode_and_size_colourise_at_their_size(colorizer, folder, file):
    data, suffix, size = file
    path = folder / f"valid{suffix}"
    path.write_bytes(data)
    assert colorizer.colorize(path).size == size
    assert colorizer.encode_style(path).code.shape == (colorizer.config.code_dim,)


@SETTINGS
@given(im=images())
def test_pil_images_of_any_mode_colourise_at_their_size(colorizer, im):
    assert colorizer.colorize(im).size == im.size


@SETTINGS
@given(shape=st.sampled_from([(), (3,), (2, 1), (4, 5), (5, 4, 1), (4, 6, 3), (6, 4, 4), (3, 3, 2), (0, 4), (4, 0, 3),
                              (2, 2, 2, 2)]),
       dtype=st.sampled_from(["uint8", "uint16", "int32", "int64", "float32", "float64", "bool", "complex64",
                              "object"]),
       scale=st.sampled_from([0, 1, 255, 256, 70000, -1]), nan=st.booleans())
def test_arrays_of_any_shape_and_dtype_are_an_image_error_or_an_image(colorizer, shape, dtype, scale, nan):
    a = np.asarray(np.random.default_rng(0).random(shape) * scale).astype(dtype)  # 0-d stays an array
    if nan and a.dtype.kind == "f" and a.size:
        a.flat[0] = np.nan
    out = colorize_or_image_error(colorizer, a)
    if out is not None:
        assert out.size == (a.shape[1], a.shape[0])
