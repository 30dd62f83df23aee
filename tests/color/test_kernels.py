"""kernels.py, the compiled full-resolution passes: byte for byte what the numpy paths give.

The numpy paths (`pipeline._recombine_strips` + `srgb.encode_in_gamut`, and `image.luminance_plane`
without numba) are the code the compiled loops replaced, kept as the fallback; every test runs both
on the same inputs and compares them exactly.
"""

from __future__ import annotations

import gc
import os
import time

import numpy as np
import pytest
from PIL import Image

from artcolor.color import kernels, srgb
from artcolor.inputs.images import luminance_plane
from artcolor.inference.pipeline import recombine

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")


def numpy_only(fn, *args, monkeypatch):
    """fn(*args) with the compiled kernels switched off: the numpy path."""
    with monkeypatch.context() as m:
        m.setattr(kernels, "AVAILABLE", False)
        return fn(*args)


def ratios(h: int, w: int, seed: int) -> np.ndarray:
    """(3, h, w) chroma ratios with luminance 1: grays, in-gamut colours and far out-of-gamut ones."""
    rng = np.random.default_rng(seed)
    rgb = rng.random((3, h, w)).astype(np.float32) ** 3 * rng.choice([0.0, 1.0, 8.0], (1, h, w)).astype(np.float32)
    rgb += np.float32(1e-3)  # as color.chroma_ratio keeps them: positive
    return rgb / np.tensordot(np.asarray(srgb.Y_WEIGHTS, np.float32), rgb, axes=1)


def luminances(h: int, w: int, seed: int) -> np.ndarray:
    """(h, w) float32 luminance with exact 0s and 1s and values just outside [0, 1] (sums of tables)."""
    rng = np.random.default_rng(seed)
    y = rng.random((h, w)).astype(np.float32)
    y[rng.random((h, w)) < 0.05] = 0.0
    y[rng.random((h, w)) < 0.05] = 1.0
    y[rng.random((h, w)) < 0.02] = np.float32(1 + 1e-7)
    return y


@pytest.mark.parametrize("small, full", [((16, 16), (333, 517)), ((1, 1), (5, 3)), ((8, 12), (200, 70)),
                                         ((128, 96), (1000, 750)), ((5, 5), (3, 2)), ((64, 64), (64, 64))])
def test_recombine_compiled_equals_numpy(small, full, monkeypatch):
    y, ratio = luminances(*full, seed=1), ratios(*small, seed=0)
    got = recombine(y, ratio)
    expected = numpy_only(recombine, y, ratio, monkeypatch=monkeypatch)
    assert got.mode == expected.mode == "RGB" and got.size == expected.size == full[::-1]
    assert np.array_equal(np.asarray(got), np.asarray(expected))


def test_recombine_compiled_keeps_the_alpha_band(monkeypatch):
    y, ratio = luminances(90, 120, seed=2), ratios(8, 8, seed=3)
    alpha = Image.fromarray(np.random.default_rng(4).integers(0, 256, (90, 120), dtype=np.uint8), "L")
    got = recombine(y, ratio, alpha)
    expected = numpy_only(recombine, y, ratio, alpha, monkeypatch=monkeypatch)
    assert got.mode == expected.mode == "RGBA"
    assert np.array_equal(np.asarray(got), np.asarray(expected))


def test_recombined_image_outlives_its_array_and_can_be_changed(tmp_path):
    """The image maps the kernel's array (no copy): it must keep it alive and copy before a write."""
    image = recombine(luminances(40, 50, seed=5), ratios(4, 4, seed=6))
    before = np.asarray(image).copy()
    gc.collect()
    assert np.array_equal(np.asarray(image), before)
    image.putpixel((0, 0), (1, 2, 3))
    assert image.getpixel((0, 0)) == (1, 2, 3) and np.array_equal(np.asarray(image)[1:], before[1:])
    image.save(tmp_path / "out.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png"))[1:], before[1:])


def test_recombined_image_is_the_same_where_pillow_cannot_map_rgb(monkeypatch):
    y, ratio = luminances(30, 20, seed=8), ratios(4, 4, seed=9)
    mapped = recombine(y, ratio)

    def refuse(*args):
        raise ValueError("unknown raw mode")

    monkeypatch.setattr(Image.core, "map_buffer", refuse)
    copied = recombine(y, ratio)
    assert copied.mode == "RGB" and np.array_equal(np.asarray(copied), np.asarray(mapped))


def test_working_l_is_the_same_where_pillow_cannot_map_f(monkeypatch):
    from artcolor.inference.pipeline import _image_over, working_l

    y = luminances(300, 200, seed=11)
    assert _image_over(y, "F").readonly  # mapped, not copied
    mapped = working_l(y, (48, 32))

    def refuse(*args):
        raise ValueError("unknown raw mode")

    monkeypatch.setattr(Image.core, "map_buffer", refuse)
    assert np.array_equal(working_l(y, (48, 32)), mapped)


@pytest.mark.parametrize("kind", ["RGB", "RGBA", "gray RGB", "L", "LA", "P", "CMYK"])
def test_luminance_compiled_equals_numpy(kind, monkeypatch):
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (150, 70, 3), dtype=np.uint8)
    im = {
        "RGB": lambda: Image.fromarray(rgb),
        "RGBA": lambda: Image.fromarray(np.dstack([rgb, rgb[:, :, 0]])),
        "gray RGB": lambda: Image.fromarray(np.repeat(rgb[:, :, :1], 3, axis=2)),
        "L": lambda: Image.fromarray(rgb[:, :, 0]),
        "LA": lambda: Image.fromarray(rgb[:, :, :2].copy(), "LA"),
        "P": lambda: Image.fromarray(rgb).quantize(64),
        "CMYK": lambda: Image.fromarray(rgb).convert("CMYK"),
    }[kind]()
    got = luminance_plane(im)
    expected = numpy_only(luminance_plane, im, monkeypatch=monkeypatch)
    assert got.dtype == expected.dtype == np.float32 and got.shape == (150, 70)
    assert np.array_equal(got, expected)


def test_a_single_coloured_pixel_makes_the_photo_colour():
    """The gray test looks at every row chunk: one colour pixel in the last chunk counts."""
    gray = np.full((512, 64, 3), 100, np.uint8)
    colour = gray.copy()
    colour[-1, -1] = (100, 101, 100)
    y_gray, y_colour = luminance_plane(Image.fromarray(gray)), luminance_plane(Image.fromarray(colour))
    assert np.all(y_gray == srgb.SRGB8_TO_LINEAR[100])
    from artcolor.inputs.images import _Y_LUTS  # a colour photo's gray pixels are summed like any other

    assert np.all(y_colour[:-1] == _Y_LUTS[0][100] + _Y_LUTS[1][100] + _Y_LUTS[2][100])
    assert y_colour[-1, -1] > y_colour[-1, 0]


@pytest.mark.parametrize("colour_row", [0, 37, 199])
def test_luminance_in_strips_goes_back_over_gray_strips_once_colour_appears(colour_row, monkeypatch):
    from artcolor.inputs.images import _Y_LUTS

    rgb = np.repeat(np.random.default_rng(10).integers(0, 256, (200, 30, 1), dtype=np.uint8), 3, axis=2)
    rgb[colour_row, 3] = (10, 200, 30)
    im = Image.fromarray(rgb)
    got = kernels.luminance_rgb(im, _Y_LUTS, srgb.SRGB8_TO_LINEAR, strip_pixels=30 * 16)  # 13 strips
    assert np.array_equal(got, numpy_only(luminance_plane, im, monkeypatch=monkeypatch))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_gets_threads_of_its_own():
    """A DataLoader worker forked after the parent used the pool must not wait on the parent's threads."""
    big = np.full((512, 64, 3), 7, np.uint8)
    luminance_plane(Image.fromarray(big))  # the parent's pool now exists
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if the chunks ran
        try:
            os._exit(0 if luminance_plane(Image.fromarray(big)).shape == (512, 64) else 1)
        finally:
            os._exit(2)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    pytest.fail("the forked child hung on the parent's row threads")


def test_row_chunks_cover_every_row_once():
    seen = np.zeros(1000, np.int64)

    def mark(out, start, stop):
        out[start:stop] += 1
        return stop - start

    assert sum(kernels.in_row_chunks(mark, 1000, seen)) == 1000
    assert np.all(seen == 1)
