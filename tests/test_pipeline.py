"""pipeline.py and srgb.py, the torch-free steps both colourisers share: each equals its torch reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from artcolor import color, srgb
from artcolor.inference.pipeline import bilinear_taps, blend_codes, recombine, working_l


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
