"""pipeline.py and srgb.py, the torch-free steps around the network whatever the backend: each equals its
torch reference; recombination keeps the input's lightness; working sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from PIL import Image

from artcolor.color import lab as color
from artcolor.color import srgb
from artcolor.inputs.images import luminance_plane
from artcolor.inference.pipeline import MAX_ASPECT, bilinear_taps, blend_codes, recombine, working_l, working_size


def test_l_from_y_twin_equals_torch():
    y = np.concatenate([np.linspace(0, 1, 10001), np.linspace(0.008, 0.0097, 1001)]).astype(np.float32)
    expected = color.l_from_y(torch.from_numpy(y)).numpy()
    assert np.abs(srgb.l_from_y(y) - expected).max() <= 1e-4
    assert srgb.l_from_y(y).dtype == np.float32


@pytest.mark.parametrize("n_in, n_out", [(1, 5), (4, 4), (7, 31), (128, 517), (300, 64), (3, 2)])
def test_bilinear_taps_equal_interpolate(n_in, n_out):
    x = torch.rand(1, 1, 1, n_in, dtype=torch.float64)
    expected = F.interpolate(x, size=(1, n_out), mode="bilinear", align_corners=False)[0, 0, 0].numpy()
    low, high, frac = bilinear_taps(n_in, n_out)
    a = x[0, 0, 0].numpy()
    assert np.abs(a[low] + (a[high] - a[low]) * frac - expected).max() <= 1e-6


def random_ratio(h: int, w: int, seed: int = 0) -> np.ndarray:
    """(3, h, w) chroma ratios: non-negative with luminance 1, some far out of gamut once multiplied."""
    rgb = np.random.default_rng(seed).random((3, h, w)).astype(np.float32) ** 3 * 3
    return rgb / np.tensordot(np.asarray(srgb.Y_WEIGHTS, np.float32), rgb, axes=1)


@pytest.mark.parametrize("small, full", [((16, 16), (333, 517)), ((1, 1), (5, 3)), ((8, 12), (200, 70)),
                                         ((5, 5), (3, 2))])
def test_recombine_equals_interpolate_then_gamut_mapping(small, full):
    """The numpy upsampling does what torch's F.interpolate (align_corners=False) did in recombine."""
    ratio = random_ratio(*small)
    y = np.random.default_rng(1).random(full).astype(np.float32)
    up = F.interpolate(torch.from_numpy(ratio)[None], size=full, mode="bilinear", align_corners=False)[0].numpy()
    expected = np.empty((3, *full), np.uint8)
    srgb.encode_in_gamut(y, up.copy(), expected)
    got = np.asarray(recombine(y, ratio)).transpose(2, 0, 1)
    diff = np.abs(got.astype(int) - expected.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3
    assert np.abs(np.asarray(recombine(y, torch.from_numpy(ratio))).astype(int) - got.transpose(1, 2, 0)).max() == 0


def test_working_l_is_lightness_at_the_working_size():
    y = np.tile(np.linspace(0, 1, 90, dtype=np.float32), (60, 1))
    l = working_l(y, (32, 48))
    assert l.shape == (1, 1, 32, 48) and l.dtype == np.float32
    assert l.min() >= 0 and l.max() <= 100 and np.all(np.diff(l[0, 0, 5]) > 0)


def test_blend_codes_moves_along_the_line_from_the_null_style():
    null, a, b = np.zeros(4, np.float32), np.ones(4, np.float32), np.full(4, 3.0, np.float32)
    assert np.allclose(blend_codes(null, [a, b], [1, 1], 1.0), 2.0)
    assert np.allclose(blend_codes(null, [a, b], [3, 1], 2.0), 3.0)
    assert np.allclose(blend_codes(null, [a], None, 0.0), 0.0)
    with pytest.raises(ValueError, match="2 styles but 1 style_weights"):
        blend_codes(null, [a, b], [1], 1.0)
    for strength in (float("nan"), -0.5, 5.0):
        with pytest.raises(ValueError, match="strength must be a finite number in"):
            blend_codes(null, [a], None, strength)


def test_recombine_with_a_gray_ratio_gives_the_input(gray_photo):
    y = luminance_plane(gray_photo)
    out = recombine(y, torch.ones(3, 8, 8))
    assert out.mode == "RGB" and out.size == gray_photo.size
    for band in out.split():
        assert np.array_equal(np.asarray(band), np.asarray(gray_photo))


def test_recombine_upsamples_the_ratio_and_attaches_alpha():
    y = np.full((30, 50), 0.2, dtype=np.float32)
    ratio = torch.tensor([1.5, 0.9, 0.5]).view(3, 1, 1).expand(3, 4, 4).contiguous()
    alpha = Image.new("L", (50, 30), 77)
    out = recombine(y, ratio, alpha)
    assert out.mode == "RGBA" and out.size == (50, 30)
    rgb = np.asarray(out).astype(np.int32)[..., :3]
    assert (rgb[..., 0] > rgb[..., 1]).all() and (rgb[..., 1] > rgb[..., 2]).all()
    assert (np.asarray(out).astype(np.int32)[..., 3] == 77).all()


@pytest.mark.parametrize("height, width, size, multiple", [(1, 1, 128, 16), (3, 517, 32, 4), (4000, 3000, 128, 16),
                                                           (517, 3, 128, 16), (10, 10000, 64, 8)])
def test_working_size_is_a_multiple_near_the_short_side(height, width, size, multiple):
    h, w = working_size(height, width, size, multiple)
    assert h % multiple == 0 and w % multiple == 0
    assert min(h, w) >= 2 * multiple
    assert max(h, w) <= MAX_ASPECT * size + multiple
    if max(height, width) <= MAX_ASPECT * min(height, width):
        assert abs(min(h, w) - size) <= multiple / 2
        assert w / h == pytest.approx(width / height, rel=0.1)
    else:  # very long images are capped on their long side instead
        assert abs(max(h, w) - MAX_ASPECT * size) <= multiple / 2
